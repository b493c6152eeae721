'use strict';
/* global fetch, setTimeout, setInterval, clearInterval */
/**
 * The processes of a benchmark run and what they cost: start the service
 * (`node dist/server.js`) and the helper servers as child processes, wait
 * until they answer, and read their resident memory and CPU time from
 * /proc (Linux) while the load runs.
 */
const { fork, spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  // Linux' usual value.
}

/** `{ rssKb, hwmKb, cpuMs }` of a process, or undefined once it is gone. */
function procStats(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN),
      hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN),
      cpuMs: (ticks * 1000) / clockTicks,
    };
  } catch {
    return undefined;
  }
}

/** Busy CPU time of the whole machine, ms (from /proc/stat). */
function machineBusyMs() {
  try {
    const first = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: everything but idle and iowait is busy.
    const total = first.slice(0, 8).reduce((a, b) => a + b, 0);
    return ((total - first[3] - first[4]) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}

/**
 * Samples the named processes every `intervalMs` while a load runs:
 * `stop()` returns, per name, `{ peakRssMb, cpuMs, series }` (series:
 * `[seconds since start, RSS MB]` pairs when `keepSeries`).
 */
function sampleProcesses(pids, { intervalMs = 200, keepSeries = false } = {}) {
  const t0 = Date.now();
  const busy0 = machineBusyMs();
  const state = {};
  for (const [name, pid] of Object.entries(pids)) {
    const s = pid ? procStats(pid) : undefined;
    state[name] = { pid, start: s, last: s, peakKb: s?.rssKb ?? 0, series: [] };
  }
  const take = () => {
    for (const st of Object.values(state)) {
      if (!st.pid) continue;
      const s = procStats(st.pid);
      if (!s) continue;
      st.last = s;
      st.peakKb = Math.max(st.peakKb, s.rssKb);
      if (keepSeries) st.series.push([Math.round((Date.now() - t0) / 100) / 10, Math.round(s.rssKb / 102.4) / 10]);
    }
  };
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      const out = {};
      let oursMs = 0;
      for (const [name, st] of Object.entries(state)) {
        out[name] = st.start
          ? { peakRssMb: Math.round(st.peakKb / 102.4) / 10, cpuMs: st.last.cpuMs - st.start.cpuMs, series: st.series }
          : { peakRssMb: NaN, cpuMs: NaN, series: [] };
        if (st.start) oursMs += out[name].cpuMs;
      }
      // CPU that none of the measured processes used (other work on the machine): noise, in cores.
      out.otherCores = Math.max(0, (machineBusyMs() - busy0 - oursMs) / Math.max(1, Date.now() - t0));
      return out;
    },
  };
}

/**
 * Waits until the machine is quiet (other work below `maxCores` over one
 * second; the benchmark's own processes are idle meanwhile), at most
 * `maxWaitMs`. Returns the last load seen, in cores.
 */
async function waitForQuiet({ maxCores = 0.2, maxWaitMs = 30_000 } = {}) {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const before = machineBusyMs();
    await sleep(1000);
    const cores = (machineBusyMs() - before) / 1000;
    if (!(cores > maxCores) || Date.now() > deadline) return cores;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Forks a helper server (bench/servers/*.js) with node flags `execArgv`; resolves with its child and its `ready` message. */
function startHelper(script, env, firstMessage, execArgv = process.execArgv) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, '..', 'servers', script), [], {
      env: { ...process.env, ...env },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const onExit = (code) => reject(new Error(`${script} exited (${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', (m) => {
      if (m && m.ready) {
        child.off('exit', onExit);
        resolve({ child, ...m });
      }
    });
    if (firstMessage) child.send(firstMessage);
  });
}

function stopHelper(helper) {
  return new Promise((resolve) => {
    if (!helper || helper.child.exitCode !== null) return resolve();
    helper.child.once('exit', resolve);
    helper.child.send('stop');
    setTimeout(() => {
      helper.child.kill('SIGKILL');
      resolve();
    }, 3000).unref();
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the service as production runs it: `node dist/server.js`, settings
 * from the environment, logs to /dev/null (or `stdoutFile`). Resolves once `/readyz` answers
 * 200: `{ child, pid, origin, internalOrigin, stop() }`.
 */
async function startService(env, { nodeArgs = [], stdoutFile = '/dev/null', root = ROOT } = {}) {
  const port = await freePort();
  const internalPort = await freePort();
  const devNull = fs.openSync(stdoutFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'dist', 'server.js')], {
    cwd: root,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), INTERNAL_PORT: String(internalPort), ...env },
    stdio: ['ignore', devNull, 'pipe'],
  });
  fs.closeSync(devNull);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const origin = `http://127.0.0.1:${port}`;
  const internalOrigin = `http://127.0.0.1:${internalPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}) at start:\n${stderr}`);
    try {
      const r = await fetch(`${internalOrigin}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service did not become ready within 20 s:\n${stderr}`);
    }
    await sleep(100);
  }
  return {
    child,
    pid: child.pid,
    origin,
    internalOrigin,
    stderr: () => stderr,
    /** SIGTERM (graceful drain, as in production), SIGKILL after `timeoutMs`. */
    stop(timeoutMs = 10_000) {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), timeoutMs).unref();
      });
    },
  };
}

module.exports = { procStats, sampleProcesses, startHelper, stopHelper, startService, waitForQuiet, sleep, ROOT };
