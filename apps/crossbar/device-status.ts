/**
 * Devices' registration status (Kazoo's cb_devices `?with_status=true` and
 * `devices/status`), asked of the registrar with a reg_query on the bus.
 *
 * Contract
 * - `registeredDevices(cb, account)`: the ids of the account's devices that are
 *   registered now. One reg_query for the account's realm (`Fields: [Authorizing-ID,
 *   Username]`) answered by a registrar; a registration names a device by its
 *   Authorizing-ID (the device id the registrar authenticated it as) or, when the proxy
 *   sent none, by its Username = the device's `sip.username` (case-insensitive).
 *   reg_query_error (nothing registered) and no answer within the requester's timeout
 *   (logged at warn) both mean none registered, as in Kazoo. An account without a realm
 *   has none. A crossbar without a bus refuses with 503 `registrar_unreachable`.
 * - `withStatus(cb, account, rows)`: listing rows with `registered: true|false` each.
 * - `GET /v2/accounts/{A}/devices/status`: `[{device_id, registered: true}]` for each
 *   registered device.
 */
import type { FastifyInstance } from 'fastify';
import { build, destination, type Envelope as ApiEnvelope } from '../../src/api/index.ts';
import type { Envelope } from '../../src/bus/index.ts';
import type { SavedDoc } from '../../src/store/index.ts';
import { route } from './answer.ts';
import type { Crossbar } from './context.ts';
import { accountScope } from './doc-routes.ts';
import { CbError } from './errors.ts';

type Obj = Record<string, unknown>;

async function registrations(cb: Crossbar, realm: string): Promise<Obj[]> {
  if (cb.registrar === undefined)
    throw new CbError(503, 'registrar_unreachable', { message: 'no bus to ask the registrar on' });
  const req = build(
    'reg_query',
    { Realm: realm, Fields: ['Authorizing-ID', 'Username'] },
    { appName: 'crossbar', appVersion: '4.3', node: cb.node },
  );
  const to = destination('reg_query', req as ApiEnvelope);
  try {
    const reply = await cb.registrar.call(req as unknown as Envelope, to, { validate: () => true });
    if (reply['Event-Name'] !== 'reg_query_resp') return [];
    return Array.isArray(reply.Fields) ? (reply.Fields as Obj[]) : [];
  } catch (err) {
    cb.log.warn(
      { realm, err: String(err) },
      'crossbar: reg_query unanswered, no device counts as registered',
    );
    return [];
  }
}

export async function registeredDevices(cb: Crossbar, account: SavedDoc, db: string): Promise<Set<string>> {
  const realm = account.realm;
  if (typeof realm !== 'string' || realm === '') return new Set();
  const regs = await registrations(cb, realm);
  if (regs.length === 0) return new Set();
  const ids = new Set(regs.map((r) => r['Authorizing-ID']).filter((v): v is string => typeof v === 'string'));
  const users = regs.map((r) => r.Username).filter((v): v is string => typeof v === 'string');
  for (const username of new Set(users.map((u) => u.toLowerCase()))) {
    const rows = (await cb.store.view(db, 'crossbar_listings/devices_by_sip_username', { key: username }))
      .rows;
    for (const row of rows) if (typeof row.id === 'string') ids.add(row.id);
  }
  return ids;
}

export async function withStatus(cb: Crossbar, account: SavedDoc, db: string, rows: Obj[]): Promise<Obj[]> {
  const registered = await registeredDevices(cb, account, db);
  return rows.map((r) => ({ ...r, registered: registered.has(r.id as string) }));
}

export function registerDeviceStatusRoute(app: FastifyInstance, cb: Crossbar): void {
  app.get(
    '/v2/accounts/:account_id/devices/status',
    route(async (req) => {
      const { account, db } = await accountScope(cb, req);
      const registered = await registeredDevices(cb, account, db);
      return { data: [...registered].sort().map((id) => ({ device_id: id, registered: true })) };
    }),
  );
}
