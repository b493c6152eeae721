#!/usr/bin/env node
// Rewrites the committed OpenAPI documents (docs/openapi/*.json) from the catalogue (run after `npm run build`).
const { mkdirSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { OPENAPI_FILES, renderOpenApiFile } = require('../dist/openapi/files.js');

const root = join(__dirname, '..');
for (const [side, file] of Object.entries(OPENAPI_FILES)) {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), renderOpenApiFile(side));
  console.log(`wrote ${file}`);
}
