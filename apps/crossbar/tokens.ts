/**
 * Auth tokens: JWTs signed with EdDSA (Ed25519, node:crypto), as Kazoo 4.3's kz_auth
 * hands out JWTs: clients split the token on `.` and read the claims.
 *
 * Contract
 * - The signing key lives in the store (`system_config`, document `crossbar.auth_keys`),
 *   so every node of a cluster signs and checks with the same one. `TokenKeys.load()`
 *   reads it, or creates it when there is none (two nodes racing: the loser reads the
 *   winner's); the private key is never logged nor sent.
 * - `sign(claims, ttlS)` answers `header.payload.signature` (base64url), the claims being
 *   `account_id`, `owner_id` (when a user logged in), `method` (cb_user_auth /
 *   cb_api_auth), `iat`, `exp`, `iss: "fife"`.
 * - `verify(token)` answers the claims, or undefined for anything that is not a token
 *   this cluster signed and that has not expired. A token whose signature checked out is
 *   remembered (the last 10,000), so a client's next requests skip the signature check;
 *   its expiry is checked every time.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { SYSTEM_CONFIG_DB, isStoreError, type DocumentStore, withPvtTimes } from '../../src/store/index.ts';

export const KEYS_DOC = 'crossbar.auth_keys';

export interface TokenClaims {
  account_id: string;
  owner_id?: string;
  method: string;
  iat: number;
  exp: number;
  iss: string;
  jti: string;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
/** How many checked tokens `verify` remembers (the oldest goes first). */
const VERIFIED_MAX = 10_000;
const HEADER = b64({ alg: 'EdDSA', typ: 'JWT', crv: 'Ed25519' });

export class TokenKeys {
  private constructor(
    private readonly priv: KeyObject,
    private readonly pub: KeyObject,
  ) {}

  static async load(store: DocumentStore): Promise<TokenKeys> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const doc = await store.get(SYSTEM_CONFIG_DB, KEYS_DOC);
        const pem = doc.pvt_private_key;
        if (typeof pem !== 'string')
          throw new Error(`${SYSTEM_CONFIG_DB}/${KEYS_DOC} has no pvt_private_key`);
        const priv = createPrivateKey(pem);
        return new TokenKeys(priv, createPublicKey(priv));
      } catch (err) {
        if (!isStoreError(err, 'not_found')) throw err;
      }
      const { privateKey } = generateKeyPairSync('ed25519');
      try {
        await store.save(
          SYSTEM_CONFIG_DB,
          withPvtTimes({
            _id: KEYS_DOC,
            pvt_type: 'crossbar_auth_keys',
            alg: 'EdDSA',
            pvt_private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          }),
        );
      } catch (err) {
        if (!isStoreError(err, 'conflict')) throw err;
      }
    }
    throw new Error(`cannot read or create ${SYSTEM_CONFIG_DB}/${KEYS_DOC}`);
  }

  sign(claims: { account_id: string; owner_id?: string; method: string }, ttlS: number): string {
    const iat = Math.floor(Date.now() / 1000);
    const body: TokenClaims = {
      ...claims,
      iat,
      exp: iat + ttlS,
      iss: 'fife',
      jti: randomBytes(12).toString('hex'),
    };
    const input = `${HEADER}.${b64(body)}`;
    return `${input}.${sign(null, Buffer.from(input), this.priv).toString('base64url')}`;
  }

  /** Tokens whose signature checked out, with their claims (insertion order: oldest first). */
  private readonly verified = new Map<string, TokenClaims>();

  verify(token: string): TokenClaims | undefined {
    const known = this.verified.get(token);
    if (known !== undefined) return this.unexpired(known);
    const claims = this.verifySignature(token);
    if (claims === undefined) return undefined;
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, Object.freeze(claims));
    return this.unexpired(claims);
  }

  private unexpired(claims: TokenClaims): TokenClaims | undefined {
    return claims.exp <= Math.floor(Date.now() / 1000) ? undefined : claims;
  }

  private verifySignature(token: string): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return undefined;
    const ok = verify(
      null,
      Buffer.from(`${parts[0]}.${parts[1]}`),
      this.pub,
      Buffer.from(parts[2]!, 'base64url'),
    );
    if (!ok) return undefined;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return undefined;
    }
    if (typeof claims.account_id !== 'string' || typeof claims.exp !== 'number') return undefined;
    return claims;
  }
}
