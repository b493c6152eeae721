/**
 * A suite that lacks a tool fails and names the command that installs it (test/helpers/tools.ts):
 * the message is what a developer on a fresh machine reads instead of a silent pass.
 */
import { chromium, installCommand, requireTool, toolFound, type Tool } from '../helpers/tools';

const ABSENT: Tool = { executable: 'miles-bff-absent-tool', debianPackage: 'miles-bff-absent-package', why: 'this check needs it' };

describe('requireTool', () => {
  it('fails for a tool not on PATH, naming the command that installs it', () => {
    expect(toolFound(ABSENT.executable)).toBe(false);
    expect(() => requireTool(ABSENT)).toThrow('Install it: apt-get install -y miles-bff-absent-package');
  });

  it('fails for a browser missing at its path, naming the chromium package', () => {
    const missing = chromium('/nonexistent/miles-bff/chromium');
    expect(installCommand(missing)).toBe('apt-get install -y chromium');
    expect(() => requireTool(missing)).toThrow(/\/nonexistent\/miles-bff\/chromium not found: .*apt-get install -y chromium/);
  });

  it('finds a tool that is there, on PATH or by its path', () => {
    expect(toolFound('sh')).toBe(true);
    expect(toolFound(process.execPath)).toBe(true);
    expect(() => requireTool({ executable: 'sh', debianPackage: 'dash', why: 'x' })).not.toThrow();
  });
});
