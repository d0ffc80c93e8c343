import assert from "node:assert/strict";
import { OcspHttp, type OcspHttpRequest, type OcspRouteDeps } from "../../../api/routes/ocsp.js";
import type { OcspAccessRecord } from "../../../ca/revocation/ocsp-ports.js";
import { FixedClock } from "../../../ca/ports.js";
import type { RelyingParty } from "../../../ca/relying-parties/relying-party.js";
import type { OcspAnswer } from "../../../ocsp/ocsp-responder.js";
import { cacheKey, type CachedResponse } from "../../../ocsp/response-cache.js";

const T0 = new Date("2026-11-22T03:00:00Z");
const KEY = `rp_${"A".repeat(43)}`;
const PATH = "/ocsp/MEIwQDA%2BMDwwOjAJBgUrDgMCGgUABBQ";

const cached: CachedResponse = {
  key: cacheKey("auth-g1", "sha1", "0a01"),
  caId: "auth-g1",
  hash: "sha1",
  serial: "0a01",
  der: Buffer.from("pre-signed response"),
  certStatus: "good",
  rank: 1,
  status: { kind: "good" },
  provisional: false,
  thisUpdate: T0,
  nextUpdate: new Date(T0.getTime() + 86_400_000),
  producedAt: T0,
  etag: '"etag"',
  lastModified: T0.toUTCString(),
  expires: new Date(T0.getTime() + 86_400_000).toUTCString(),
};

/** OcspHttp over fakes at its ports: how often the responder is asked, what is recorded. */
function setup(mode: "registered" | "public") {
  const calls = { answer: 0 };
  const state = { serves: true, room: true, peek: "known" as "known" | "unknown" | "not-a-party" };
  const records: OcspAccessRecord[] = [];
  const party: RelyingParty = { id: "rp-1", name: "RP", active: true };
  const error = (status: string): OcspAnswer => ({ der: Buffer.from(status), status: status as OcspAnswer["status"], certificates: [], cacheable: undefined });
  const deps: OcspRouteDeps = {
    responder: {
      answer: async () => {
        calls.answer++;
        return { der: cached.der, status: "successful", certificates: [{ serial: cached.serial, caId: cached.caId, answer: "good" }], cacheable: cached };
      },
      errorAnswer: (s) => error(s),
      stillServes: () => state.serves,
    },
    recorder: { record: (r) => state.room && records.push(...r) > 0, hasRoom: () => state.room },
    access: {
      mode,
      parties: {
        byApiKey: async (k) => (k === KEY ? party : undefined),
        byCertificateId: async () => undefined,
        peekApiKey: (k) => (k !== KEY || state.peek === "not-a-party" ? null : state.peek === "known" ? party : undefined),
        peekCertificateId: () => undefined,
      },
    },
    clock: new FixedClock(T0),
  };
  const http = new OcspHttp(deps, true);
  const req = (extra: Partial<OcspHttpRequest> = {}): OcspHttpRequest => ({ method: "GET", path: PATH, authorization: `Bearer ${KEY}`, ifNoneMatch: undefined, client: undefined, ...extra });
  /** The fast path's order: repeat, else handle. */
  const get = async (extra: Partial<OcspHttpRequest> = {}) => http.repeat(req(extra)) ?? (await http.handle(req(extra)));
  return { http, calls, state, records, req, get };
}

describe("OcspHttp.repeat: GETs answered before, from memory", () => {
  it("registered: a known party's repeat skips the responder and is recorded like any answer", async () => {
    const s = setup("registered");
    assert.equal(s.http.repeat(s.req()), undefined, "nothing answered yet");
    for (let i = 0; i < 3; i++) {
      const a = await s.get();
      assert.equal(a.status, 200);
      assert.deepEqual(a.body, cached.der);
      assert.match(a.headers["Cache-Control"]!, /^max-age=3600, private, no-transform, must-revalidate$/);
      assert.equal(a.headers["Content-Type"], "application/ocsp-response");
    }
    assert.equal(s.calls.answer, 1, "the first answer only");
    assert.deepEqual(
      s.records.map((r) => [r.party, r.serial, r.caId, r.answer, r.at.getTime()]),
      Array(3).fill(["rp-1", "0a01", "auth-g1", "good", T0.getTime()]),
    );
  });

  it("registered: no repeat without a party known from the cache, without room in the access log, or for a response memory no longer serves", async () => {
    const s = setup("registered");
    await s.get();
    s.state.peek = "unknown"; // expired from the relying-party cache: handle looks the party up
    await s.get();
    assert.equal(s.calls.answer, 2);
    s.state.peek = "known";
    assert.equal(s.http.repeat(s.req({ authorization: undefined })), undefined, "no credential");
    assert.equal(s.http.repeat(s.req({ authorization: `Bearer rp_${"B".repeat(43)}` })), undefined, "another key");
    s.state.peek = "not-a-party";
    assert.equal(s.http.repeat(s.req()), undefined, "a deactivated party");
    s.state.peek = "known";
    s.state.room = false;
    assert.equal(s.http.repeat(s.req()), undefined, "the access log is full");
    assert.equal((await s.get()).body?.toString(), "tryLater");
    s.state.room = true;
    s.state.serves = false;
    assert.equal(s.http.repeat(s.req()), undefined, "replaced (revocation) or aged");
    assert.equal(s.http.repeat(s.req({ ifNoneMatch: '"etag"' })), undefined, "conditional GETs take the full path (304)");
    assert.equal(s.records.length, 2, "only the answers given were recorded");
  });

  it("public: repeats answered without recording, with public caching headers", async () => {
    const s = setup("public");
    await s.get({ authorization: undefined });
    const again = s.http.repeat(s.req({ authorization: undefined }));
    assert.ok(again);
    assert.match(again.headers["Cache-Control"]!, /, public,/);
    assert.equal(again.headers["Content-Length"], String(cached.der.length));
    assert.equal(s.calls.answer, 1);
    assert.equal(s.records.length, 0);
  });
});
