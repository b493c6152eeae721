import { settingsTable, type SettingDefinition, type SettingGroup } from './settings-table';

/**
 * `.env.example` and `docs/configuration.md` rendered from the settings
 * table, so they cannot drift from what the loader reads. A unit test
 * compares the committed files with these renderings; `npm run docs:config`
 * rewrites them.
 */
const GROUP_TITLES: Record<SettingGroup, string> = {
  service: 'Service',
  upstream: "Upstream (the app's miles API)",
  redis: 'Redis',
  session: 'Sessions and cookies',
  identity: 'Identity of the connecting user',
  oidc: 'OpenID Connect sign-in (`IDENTITY_MODE=oidc`)',
  browser: 'Browsers: proxies, origins, actions',
  cache: 'Response cache',
  'rate-limit': 'Rate limits',
  internal: 'Internal API',
  resilience: 'Resilience',
};

function kindText(def: SettingDefinition): string {
  const k = def.kind;
  switch (k.type) {
    case 'int':
      return `integer ${k.min}–${k.max}`;
    case 'enum':
      return k.values.map((v) => `\`${v}\``).join(' \\| ');
    case 'list':
      return 'comma list';
    default:
      return k.type;
  }
}

function groups(): Map<SettingGroup, SettingDefinition[]> {
  const out = new Map<SettingGroup, SettingDefinition[]>();
  for (const def of settingsTable) {
    const list = out.get(def.group) ?? [];
    list.push(def);
    out.set(def.group, list);
  }
  return out;
}

export function renderEnvExample(): string {
  const lines = [
    '# miles-bff settings. Every one is optional outside production: with none at all the',
    '# service runs on its embedded defaults (sandbox simulator, in-process stores).',
    '# Secrets marked (secret) may instead be read from a file named by <NAME>_FILE.',
    '# Generated from src/config/settings-table.ts by `npm run docs:config`.',
  ];
  for (const [group, defs] of groups()) {
    lines.push('', `# --- ${GROUP_TITLES[group]} ---`);
    for (const def of defs) {
      lines.push(`# ${def.description.replace(/`/g, '')}${def.secret ? ' (secret)' : ''}`);
      if (def.example) lines.push(`# Example, ${def.example.caption.replace(/`/g, '')}:`, ...def.example.text.split('\n').map((l) => `#   ${l}`));
      lines.push(`${def.default === undefined ? '# ' : ''}${def.name}=${def.default ?? ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function renderConfigurationDoc(): string {
  const lines = [
    '# Configuration',
    '',
    'Every setting is an environment variable, checked at start-up: a refused start prints one line',
    'per problem, naming the setting. Secrets may come from a file instead: set `<NAME>_FILE` to its',
    'path (a mounted Kubernetes Secret). `NODE_ENV=production` refuses the development conveniences',
    '(embedded sandbox, in-process stores, `insecure-body` identity, insecure cookies, short secrets).',
    'A variable one or two typos away from a setting (`REDIS_URLL`) is refused, naming the setting',
    'meant; any other name that only shares a prefix with the settings (a platform\'s `REDIS_TLS_URL`,',
    'a Kubernetes service link\'s `REDIS_PORT`) is ignored with a warning in the log.',
    '',
    'This page is generated from `src/config/settings-table.ts` (`npm run docs:config`).',
  ];
  for (const [group, defs] of groups()) {
    lines.push('', `## ${GROUP_TITLES[group]}`, '', '| Setting | Type | Default | Secret | Meaning |', '|---|---|---|---|---|');
    for (const def of defs) {
      const dflt = def.default === undefined ? '—' : def.default === '' ? '(empty)' : `\`${def.default}\``;
      lines.push(`| \`${def.name}\` | ${kindText(def)} | ${dflt} | ${def.secret ? 'yes (`_FILE`)' : ''} | ${def.description.replace(/\|/g, '\\|')} |`);
    }
    for (const def of defs) {
      if (def.example) lines.push('', `Example of \`${def.name}\`, ${def.example.caption}:`, '', `\`\`\`${def.example.language}`, def.example.text, '```');
    }
  }
  return `${lines.join('\n')}\n`;
}
