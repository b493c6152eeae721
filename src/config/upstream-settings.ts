import { builtInCatalogue } from '../upstream/catalogue';
import { readCatalogueFile } from '../upstream/catalogue-file';
import { conformsTo, fields } from '../upstream/fields';
import type { SettingsReader } from './environment';
import type { Settings } from './settings';

export type UpstreamSettings = Pick<
  Settings,
  'upstream' | 'upstreamTimeoutMs' | 'upstreamMaxSockets' | 'signing' | 'catalogue' | 'backendToken' | 'upstreamNotAppliedStatuses' | 'programLanguages'
>;

/** A path into a JSON object: property names joined by dots. */
const FIELD_PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/**
 * The `APM_*` settings, `UPSTREAM_NOT_APPLIED_STATUSES` and `PROGRAM_LANGUAGES`:
 * where the partner API is and with what credentials, how calls are signed,
 * how `auth/token`'s answer is read, the catalogue with `APM_CATALOGUE_FILE`
 * applied, and the languages of the program's content. Undefined when the
 * upstream cannot be formed; a problem then says why.
 *
 * The one file of `config/` that imports `upstream/`: the catalogue file is a
 * setting, and the languages are checked against the field spec of `lang`.
 */
export function readUpstreamSettings(r: SettingsReader): UpstreamSettings | undefined {
  const upstream = readUpstreamTarget(r);

  const fieldPath = (name: 'APM_BACKEND_TOKEN_FIELD' | 'APM_BACKEND_TOKEN_EXPIRES_IN_FIELD'): readonly string[] => {
    const value = r.get(name);
    r.need(FIELD_PATH.test(value), `${name}: "${value}" is not a field path (names of letters, digits, _ or $, joined by dots, e.g. token or auth.accessToken).`);
    return value.split('.');
  };
  const backendToken = {
    tokenField: fieldPath('APM_BACKEND_TOKEN_FIELD'),
    expiresInField: fieldPath('APM_BACKEND_TOKEN_EXPIRES_IN_FIELD'),
    defaultTtlSeconds: r.get('APM_BACKEND_TOKEN_DEFAULT_TTL_SECONDS'),
  };

  const catalogueFile = r.get('APM_CATALOGUE_FILE');
  let catalogue = builtInCatalogue;
  if (catalogueFile) {
    const read = readCatalogueFile(catalogueFile);
    for (const p of read.problems) r.problems.push(`APM_CATALOGUE_FILE: ${p}`);
    catalogue = read.catalogue;
  }

  const upstreamNotAppliedStatuses = r.get('UPSTREAM_NOT_APPLIED_STATUSES').map((text) => {
    const status = Number(text);
    r.need(/^\d{3}$/.test(text) && status >= 400 && status <= 599, `UPSTREAM_NOT_APPLIED_STATUSES: "${text}" is not an HTTP error status (400-599).`);
    return status;
  });

  const programLanguages = readProgramLanguages(r);

  if (!upstream) return undefined;
  return {
    upstream,
    upstreamTimeoutMs: r.get('APM_TIMEOUT_MS'),
    upstreamMaxSockets: r.get('APM_MAX_SOCKETS'),
    signing: {
      jsonEncoding: r.get('APM_JSON_ENCODING'),
      signedHeadersFormat: r.get('APM_SIGNED_HEADERS_FORMAT'),
      emptyBody: r.get('APM_EMPTY_BODY'),
      signatureHeader: r.get('APM_SIGNATURE_HEADER'),
    },
    catalogue,
    backendToken,
    upstreamNotAppliedStatuses,
    programLanguages,
  };
}

/** The partner API of `APM_BASE_URL` with its credentials, else the embedded sandbox (refused in production). */
function readUpstreamTarget(r: SettingsReader): Settings['upstream'] | undefined {
  const baseUrl = r.get('APM_BASE_URL');
  const partnerId = r.get('APM_PARTNER_ID');
  const partnerSecret = r.get('APM_PARTNER_SECRET');
  if (!baseUrl) {
    r.need(!r.production, 'APM_BASE_URL: required when NODE_ENV=production (the embedded sandbox is for development only).');
    return { kind: 'embedded-sandbox' };
  }
  r.need(Boolean(partnerId), 'APM_PARTNER_ID: required when APM_BASE_URL is set.');
  r.need(Boolean(partnerSecret), 'APM_PARTNER_SECRET: required when APM_BASE_URL is set (or APM_PARTNER_SECRET_FILE).');
  r.need(baseUrl.endsWith('/'), 'APM_BASE_URL: must end with "/" (e.g. https://api-sandbox.appsmiles.eu/2.0/).');
  if (r.production) r.need(baseUrl.startsWith('https://'), 'APM_BASE_URL: must be https:// when NODE_ENV=production.');
  return partnerId && partnerSecret ? { kind: 'remote', baseUrl, partnerId, partnerSecret } : undefined;
}

/** A language as a request's `lang` may name it. */
const isLanguageTag = conformsTo(fields.lang);

function readProgramLanguages(r: SettingsReader): Settings['programLanguages'] {
  const languages = r.get('PROGRAM_LANGUAGES');
  r.need(languages.length > 0, 'PROGRAM_LANGUAGES: name at least one language (e.g. fr,en).');
  for (const lang of languages) {
    r.need(isLanguageTag(lang), `PROGRAM_LANGUAGES: "${lang}" is not a language tag (e.g. fr, en, pt-BR).`);
  }
  return languages;
}
