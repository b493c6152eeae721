import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** The Node release of the image: the tag of the Dockerfile's first `FROM node:<x.y.z>-…`. */
export function imageNodeVersion(): string {
  const from = /^FROM\s+node:(\d+\.\d+\.\d+)-\S+/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  if (!from?.[1]) throw new Error('Dockerfile: no FROM node:<major.minor.patch>-<variant> line');
  return from[1];
}

export const majorOf = (version: string): number => Number(/^v?(\d+)\./.exec(version)?.[1]);

/**
 * Refuses a run on another Node major than the image's: the tests would pass or fail for
 * reasons the image does not share. `npm test` (and npx) put the pinned `node` dev dependency
 * first on PATH, so this only trips when Jest is started by another node directly.
 */
export function requireImageNodeMajor(running: string = process.version): void {
  const image = imageNodeVersion();
  if (majorOf(running) !== majorOf(image)) {
    throw new Error(
      `The tests run on Node ${running}, the image on Node ${image}: run them through npm (npm test, npx jest), which puts node_modules/.bin/node (Node ${image}) first on PATH.`,
    );
  }
}
