import Router from "@koa/router";
import { parseCaId } from "../../ca/types.js";
import { CaError } from "../../ca/errors.js";
import type { CaGenerationStore } from "../../ca/stores.js";

/** docs/api.md §2–3: `GET /ca` lists the CA generations, `GET /ca/{caId}.crt` serves one certificate (DER). */
export function caCertificateRoutes(store: Pick<CaGenerationStore, "list" | "get">): Router {
  const router = new Router();
  router.get("/ca", async function listCaGenerations(ctx) {
    const gens = await store.list();
    ctx.body = {
      cas: gens.map((g) => ({
        caId: g.id,
        kind: g.kind,
        generation: g.generation,
        status: g.status,
        keyAlgorithm: g.keyAlgorithm,
        signatureAlgorithm: g.signatureAlgorithm,
        certificateUrl: `/ca/${g.id}.crt`,
      })),
    };
  });
  router.get("/ca/:file", async function serveCaCertificate(ctx) {
    const m = /^(.+)\.crt$/.exec(ctx.params.file ?? "");
    const caId = m?.[1];
    if (!caId || !parseCaId(caId)) throw new CaError("not-found", "no such CA");
    const ca = await store.get(caId as never);
    if (!ca) throw new CaError("not-found", "no such CA");
    ctx.type = "application/pkix-cert";
    ctx.set("Cache-Control", "public, max-age=86400");
    ctx.body = Buffer.from(ca.certificate);
  });
  return router;
}
