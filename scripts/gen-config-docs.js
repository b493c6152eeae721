#!/usr/bin/env node
// Rewrites .env.example and docs/configuration.md from the settings table (run after `npm run build`).
const { writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const { renderEnvExample, renderConfigurationDoc } = require('../dist/config/describe.js');

const root = join(__dirname, '..');
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, '.env.example'), renderEnvExample());
writeFileSync(join(root, 'docs', 'configuration.md'), renderConfigurationDoc());
console.log('wrote .env.example and docs/configuration.md');
