import type { Side } from '../upstream/catalogue';
import { buildOpenApiDocument } from './document';

/**
 * The committed copies of both documents (`npm run openapi` writes them, a
 * test fails when they are stale): what front-end and partner teams generate
 * code from without running the service. They are built without a running
 * service's settings: the default cookie name, and connect as a production
 * identity mode describes it (see `connectFields`).
 */
export const OPENAPI_FILES: Readonly<Record<Side, string>> = Object.freeze({
  front: 'docs/openapi/public.json',
  back: 'docs/openapi/internal.json',
});

/** The text of a committed document: stable key order, two-space indent, final newline. */
export function renderOpenApiFile(side: Side): string {
  return `${JSON.stringify(buildOpenApiDocument(side), null, 2)}\n`;
}
