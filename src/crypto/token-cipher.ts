import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Seals tokens before they reach the store (AES-256-GCM): the `userToken`s of
 * sessions (session/) and the shared back-end token (upstream/), so a dump of
 * Redis yields no usable token. Several keys for rotation: the first
 * encrypts, any decrypts; each ciphertext names its key by a short id. The
 * sealed format and the key derivation are fixed: tokens already in the store
 * must keep opening.
 */
export interface TokenCipher {
  encrypt(token: string): string;
  /** Returns undefined when no key fits or the text was tampered with. */
  decrypt(sealed: string): string | undefined;
}

const VERSION = 'v1';

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 8);
}

/** A 32-byte key derived from the session secrets when no key is configured. */
export function deriveTokenKey(sessionSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'miles-bff', 'userToken encryption v1', 32));
}

export function createTokenCipher(keys: readonly Buffer[]): TokenCipher {
  if (keys.length === 0) throw new Error('createTokenCipher: at least one key is needed');
  for (const k of keys) if (k.length !== 32) throw new Error('createTokenCipher: keys must be 32 bytes');
  const [primary] = keys as [Buffer, ...Buffer[]];
  const primaryId = keyId(primary);
  const byId = new Map(keys.map((k) => [keyId(k), k]));

  return {
    encrypt(token) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', primary, iv);
      cipher.setAAD(Buffer.from(`${VERSION}.${primaryId}`));
      const ct = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
      return [VERSION, primaryId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    decrypt(sealed) {
      const parts = sealed.split('.');
      if (parts.length !== 5 || parts[0] !== VERSION) return undefined;
      const key = byId.get(parts[1]!);
      if (!key) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[2]!, 'base64url'));
        decipher.setAAD(Buffer.from(`${VERSION}.${parts[1]}`));
        decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(parts[4]!, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}
