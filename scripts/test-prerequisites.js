#!/usr/bin/env node
// `npm test`'s pretest step: what the tests need beyond npm packages, installed from Debian's
// packages when this runs as root, otherwise named in the one command to run. A test that finds
// a tool missing fails rather than skips, so a machine without them would otherwise end the run
// with failures that say less than this.
const { accessSync, constants } = require('node:fs');
const { delimiter, join } = require('node:path');
const { spawnSync } = require('node:child_process');

/** Kustomize components and replacements (k8s/) need kustomize 5; kubectl carries its own. */
const KUSTOMIZE_MAJOR = 5;

/**
 * @typedef {{ tool: string, debianPackage: string, why: string, hint?: string }} Requirement
 * @typedef {{ executable(name: string): boolean, file(path: string): boolean, kustomizeMajor(): number | undefined }} Probe
 * @typedef {{ missing: Requirement[], action: 'none' | 'install' | 'stop', command?: string }} Plan
 */

/** @type {(env: NodeJS.ProcessEnv) => Requirement[]} */
const requirements = (env) => [
  { tool: env.CHROMIUM_PATH || '/usr/bin/chromium', debianPackage: 'chromium', why: 'the browser tests (test/e2e) drive headless Chromium' },
  { tool: 'php', debianPackage: 'php-cli', why: "the JSON encoding's differential check against PHP's json_encode" },
  { tool: 'redis-server', debianPackage: 'redis-server', why: 'the Redis outage and topology tests start Redis servers of their own' },
  { tool: 'redis-cli', debianPackage: 'redis-tools', why: 'the topology tests set up Sentinel and Cluster with redis-cli' },
  {
    tool: 'kubectl',
    debianPackage: 'kubectl',
    why: `the manifest tests render k8s/ with kubectl kustomize (kustomize ${KUSTOMIZE_MAJOR} or later)`,
    // Debian's own archive has kubectl only as kubernetes-client 1.20, whose kustomize (v2) knows no
    // components or replacements: the kubectl package comes from the Kubernetes project's apt repository.
    hint: "if apt-get cannot find it, add the Kubernetes project's apt repository (Debian's kubernetes-client is too old), or put a kubectl 1.27+ on PATH",
  },
];

/**
 * What to do, from what the probe finds: nothing, install the missing packages (root), or stop
 * and name the command (anyone else). Pure, so that it is tested without touching the machine.
 * @param {Probe} probe
 * @param {{ root: boolean, env: NodeJS.ProcessEnv }} context
 * @returns {Plan}
 */
function planPrerequisites(probe, { root, env }) {
  const missing = requirements(env).filter((r) => {
    if (r.tool.includes('/')) return !probe.file(r.tool);
    if (!probe.executable(r.tool)) return true;
    if (r.tool === 'kubectl') return (probe.kustomizeMajor() ?? 0) < KUSTOMIZE_MAJOR;
    return false;
  });
  if (missing.length === 0) return { missing, action: 'none' };
  const packages = missing.map((r) => r.debianPackage).join(' ');
  const install = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages}`;
  if (root) return { missing, action: 'install', command: install };
  return { missing, action: 'stop', command: `sudo sh -c '${install}'` };
}

/** @type {(env: NodeJS.ProcessEnv) => Probe} */
function machineProbe(env) {
  const runnable = (path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const dirs = (env.PATH || '').split(delimiter).filter(Boolean);
  return {
    executable: (name) => dirs.some((dir) => runnable(join(dir, name))),
    file: runnable,
    kustomizeMajor() {
      const out = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', env, timeout: 30_000 });
      const match = /Kustomize Version:\s*v?(\d+)\./.exec(`${out.stdout || ''}`);
      return match ? Number(match[1]) : undefined;
    },
  };
}

const describeMissing = (missing) =>
  missing.map((r) => `  ${r.tool} (Debian package ${r.debianPackage}): ${r.why}${r.hint ? `; ${r.hint}` : ''}`).join('\n');

function main() {
  const env = process.env;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const plan = planPrerequisites(machineProbe(env), { root, env });
  if (plan.action === 'none') return 0;
  if (plan.action === 'stop') {
    console.error(`The tests need what this machine lacks:\n${describeMissing(plan.missing)}\nRun, then npm test again:\n  ${plan.command}`);
    return 1;
  }
  console.error(`pretest: installing ${plan.missing.map((r) => r.debianPackage).join(', ')}`);
  const run = spawnSync('sh', ['-c', plan.command], { stdio: 'inherit', env });
  const after = planPrerequisites(machineProbe(env), { root, env });
  if (run.status !== 0 || after.action !== 'none') {
    console.error(`pretest: still missing after "${plan.command}" (exit ${run.status ?? run.signal}):\n${describeMissing(after.missing)}`);
    return 1;
  }
  return 0;
}

module.exports = { planPrerequisites, machineProbe, KUSTOMIZE_MAJOR };

if (require.main === module) process.exitCode = main();
