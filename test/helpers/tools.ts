import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The tools some suites run (Chromium, openssl, php, kubectl, redis-server). A suite that lacks one
 * fails with the command that installs it, never skips nor passes: a skipped check reads as a pass
 * in every summary (npm test's pretest step installs them all).
 */
export interface Tool {
  /** A name looked up on PATH, or an absolute path. */
  readonly executable: string;
  readonly debianPackage: string;
  /** What the suite needs it for, for the message. */
  readonly why: string;
}

function runnable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function toolFound(executable: string): boolean {
  if (executable.includes('/')) return runnable(executable);
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && runnable(join(dir, executable)));
}

/** The command that installs the tool, as a failure names it. */
export function installCommand(tool: Tool): string {
  return `apt-get install -y ${tool.debianPackage}`;
}

/** Throws, naming the install command, when the tool is not there. */
export function requireTool(tool: Tool): void {
  if (toolFound(tool.executable)) return;
  throw new Error(`${tool.executable} not found: ${tool.why}. Install it: ${installCommand(tool)} (npm test's pretest step does).`);
}

export const OPENSSL: Tool = { executable: 'openssl', debianPackage: 'openssl', why: 'the TLS tests make their certificates with openssl' };
export const PHP: Tool = { executable: 'php', debianPackage: 'php-cli', why: "the JSON encoding's differential check runs PHP's json_encode" };
export const REDIS_SERVER: Tool = { executable: 'redis-server', debianPackage: 'redis-server', why: 'this suite starts and stops a Redis of its own' };
export const REDIS_CLI: Tool = { executable: 'redis-cli', debianPackage: 'redis-tools', why: 'the topology suites set up Sentinel and Cluster with redis-cli' };
export const chromium = (path: string): Tool => ({ executable: path, debianPackage: 'chromium', why: 'the browser tests drive headless Chromium (or set CHROMIUM_PATH)' });
