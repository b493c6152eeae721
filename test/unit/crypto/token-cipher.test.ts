import { randomBytes } from 'node:crypto';
import { createTokenCipher, deriveTokenKey } from '../../../src/crypto/token-cipher';

describe('token cipher (userTokens in sessions, the shared back-end token)', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('round-trips, and never shows the token in the sealed text', () => {
    const c = createTokenCipher([k1]);
    const token = 'a1b2c3d4e5f6'.repeat(5);
    const sealed = c.encrypt(token);
    expect(sealed).not.toContain(token);
    expect(sealed).toMatch(/^v1\./);
    expect(c.decrypt(sealed)).toBe(token);
    expect(c.encrypt(token)).not.toBe(sealed);
  });

  it('rotates: the new first key encrypts, the old one still decrypts', () => {
    const old = createTokenCipher([k1]);
    const sealedOld = old.encrypt('tok-old');
    const rotated = createTokenCipher([k2, k1]);
    expect(rotated.decrypt(sealedOld)).toBe('tok-old');
    const sealedNew = rotated.encrypt('tok-new');
    expect(old.decrypt(sealedNew)).toBeUndefined();
    expect(createTokenCipher([k2]).decrypt(sealedNew)).toBe('tok-new');
  });

  it('refuses tampered or foreign texts', () => {
    const c = createTokenCipher([k1]);
    const sealed = c.encrypt('tok');
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[4]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    parts[4] = flipped.toString('base64url');
    expect(c.decrypt(parts.join('.'))).toBeUndefined();
    expect(c.decrypt('v1.nope.x.y.z')).toBeUndefined();
    expect(c.decrypt('garbage')).toBeUndefined();
  });

  it('opens a token sealed by an earlier build: tokens already in the store stay readable', () => {
    // Sealed once with the key derived from this secret; the format, the AAD and the derivation must never drift.
    const secret = 'a session secret of thirty-two characters!';
    const sealed = 'v1.N7gCZdsU.6VtpkQPdpcKLftos._lfRViMa0dBFP5rx7WAHEQ.PFo3clbiHixyiHOIQYs3HncmJH1perfHGAx8w48bagvM';
    expect(deriveTokenKey(secret).toString('hex')).toBe('5764bad1a1c118a04018e6f59a22606fe6de6e9b0dd8292dcaef6dea7dfcea6c');
    expect(createTokenCipher([deriveTokenKey(secret)]).decrypt(sealed)).toBe('user-token-sealed-before-the-move');
  });

  it('derives a stable 32-byte key from the session secret', () => {
    expect(deriveTokenKey('s'.repeat(32))).toEqual(deriveTokenKey('s'.repeat(32)));
    expect(deriveTokenKey('s'.repeat(32))).toHaveLength(32);
    expect(() => createTokenCipher([])).toThrow();
    expect(() => createTokenCipher([Buffer.alloc(16)])).toThrow();
  });
});
