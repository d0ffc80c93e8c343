import type { Clock } from "../ca/ports.js";
import { apiKeyHash, type RelyingParty, type RelyingPartyAuthenticator } from "../ca/relying-parties/relying-party.js";

/**
 * The relying-party authenticator behind a short-lived, bounded cache: at OCSP rates a database
 * lookup per request would cost more than the answer. A deactivated party loses access within `ttlMs`
 * (default 30 s). Unknown keys are cached too (as absent), so guessing keys does not reach the
 * database at request rate; API keys are kept only as SHA-256 hashes.
 */
export class CachedRelyingPartyAuthenticator implements RelyingPartyAuthenticator {
  private readonly entries = new Map<string, { party: RelyingParty | undefined; until: number }>();

  constructor(
    private readonly inner: RelyingPartyAuthenticator,
    private readonly clock: Clock,
    private readonly options: { ttlMs: number; maxEntries: number } = { ttlMs: 30_000, maxEntries: 10_000 },
  ) {}

  byApiKey(apiKey: string): Promise<RelyingParty | undefined> {
    return this.cached(`k:${apiKeyHash(apiKey)}`, () => this.inner.byApiKey(apiKey));
  }

  byCertificateId(id: string): Promise<RelyingParty | undefined> {
    return this.cached(`c:${id}`, () => this.inner.byCertificateId(id));
  }

  /**
   * What the cache already knows of an API key, without a lookup: the party, null (known not to be an
   * active party), or undefined (not cached or expired: ask `byApiKey`). The OCSP hot path.
   */
  peekApiKey(apiKey: string): RelyingParty | null | undefined {
    return this.peek(`k:${apiKeyHash(apiKey)}`);
  }

  /** `peekApiKey` for a relying-party client certificate. */
  peekCertificateId(id: string): RelyingParty | null | undefined {
    return this.peek(`c:${id}`);
  }

  private peek(key: string): RelyingParty | null | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined || hit.until <= this.clock.now().getTime()) return undefined;
    return hit.party ?? null;
  }

  private async cached(key: string, load: () => Promise<RelyingParty | undefined>): Promise<RelyingParty | undefined> {
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.until > now) return hit.party;
    const party = await load();
    this.entries.delete(key);
    this.entries.set(key, { party: party && party.active ? party : undefined, until: now + this.options.ttlMs });
    if (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return party && party.active ? party : undefined;
  }
}
