/**
 * Kazoo endpoints Fife answers without data of its own, so Kazoo's clients (Monster UI
 * asks for them on every page) get Kazoo's shapes instead of 404s:
 *
 * - `GET /v2/accounts/{A}/phone_numbers`: Kazoo's number manager listing, `{numbers: {},
 *   cascade_quantity: 0}` (Fife has no number manager: a callflow's numbers route calls
 *   without being bought); `GET .../phone_numbers/{number}`: 404 bad_identifier.
 * - `GET /v2/accounts/{A}/channels`, `.../users/{U}/channels`, `.../devices/{D}/channels`:
 *   the calls up at the switch, `[]` (no channel query yet); a user or device must exist.
 *
 * Each is authorized as every account route is (the token's account or one below it).
 */
import type { FastifyInstance } from 'fastify';
import { params, route } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope, loadTyped } from './doc-routes.ts';
import { badIdentifier } from './errors.ts';

export function registerEmptyRoutes(app: FastifyInstance, cb: Crossbar): void {
  const base = '/v2/accounts/:account_id';
  app.get(
    `${base}/phone_numbers`,
    route(async (req) => {
      await accountScope(cb, req);
      return { data: { numbers: {}, cascade_quantity: 0 } };
    }),
  );
  app.get(
    `${base}/phone_numbers/:number`,
    route(async (req) => {
      await accountScope(cb, req);
      throw badIdentifier(params(req).number!);
    }),
  );
  app.get(
    `${base}/channels`,
    route(async (req) => {
      await accountScope(cb, req);
      return { data: [] };
    }),
  );
  for (const [path, type] of [
    ['users', 'user'],
    ['devices', 'device'],
  ] as const)
    app.get(
      `${base}/${path}/:id/channels`,
      route(async (req) => {
        const { db } = await accountScope(cb, req);
        await loadTyped(cb, type, db, params(req).id!);
        return { data: [] };
      }),
    );
}
