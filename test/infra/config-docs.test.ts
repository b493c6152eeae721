import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigurationDoc, renderEnvExample } from '../../src/config/describe';
import { settingsTable } from '../../src/config/settings-table';

const ROOT = join(__dirname, '..', '..');

describe('configuration docs', () => {
  it('.env.example is what the settings table renders (npm run docs:config)', () => {
    expect(readFileSync(join(ROOT, '.env.example'), 'utf8')).toBe(renderEnvExample());
  });

  it('docs/configuration.md is what the settings table renders (npm run docs:config)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8')).toBe(renderConfigurationDoc());
  });

  it('names every setting in both', () => {
    const env = renderEnvExample();
    const doc = renderConfigurationDoc();
    for (const def of settingsTable) {
      expect(env).toMatch(new RegExp(`^(# )?${def.name}=`, 'm'));
      expect(doc).toContain(`\`${def.name}\``);
    }
  });
});
