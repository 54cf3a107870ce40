/**
 * registrar_provisioner: the registrar's process that creates accounts and devices on
 * behalf of operator commands reaching a running node (the admin endpoint's POST
 * /accounts and /devices), since a running node holds its embedded store open.
 *
 * Contract
 * - Registered as `registrar_provisioner` while the registrar app runs.
 * - call {op: 'add_account', name, realm} / {op: 'add_device', realm, username, password
 *   | a1Hash, name?, ownerId?} answers {type: 'ok', id} or {type: 'error', code, error}
 *   (code: invalid | conflict | not_found | failed); a bad request never crashes it.
 * - `provisionOnNode(rt, request)` is what the admin endpoint calls: the same answer, or
 *   {type: 'error', code: 'unavailable'} when the registrar app is not running.
 */
import { GenServer, ok, reply, type GenServerBehaviour, type Runtime } from '../../src/kernel/index.ts';
import type { DocumentStore } from '../../src/store/index.ts';
import { addAccount, addDevice, ProvisionError, type AccountInput, type DeviceInput } from './provisioning.ts';

export const PROVISIONER = 'registrar_provisioner';

export type ProvisionRequest = ({ op: 'add_account' } & AccountInput) | ({ op: 'add_device' } & DeviceInput);
export type ProvisionResult = { type: 'ok'; id: string } | { type: 'error'; code: string; error: string };

async function run(store: DocumentStore, req: ProvisionRequest): Promise<ProvisionResult> {
  try {
    if (req?.op === 'add_account') return { type: 'ok', id: await addAccount(store, req) };
    if (req?.op === 'add_device') return { type: 'ok', id: await addDevice(store, req) };
    return { type: 'error', code: 'invalid', error: `unknown provisioning op ${JSON.stringify((req as { op?: unknown })?.op)}` };
  } catch (err) {
    return { type: 'error', code: err instanceof ProvisionError ? err.code : 'failed', error: (err as Error).message };
  }
}

export const Provisioner: GenServerBehaviour<{ store: DocumentStore }, DocumentStore, ProvisionRequest> = {
  name: PROVISIONER,
  init: (store) => ok({ store }),
  async handleCall(req, _from, s, ctx) {
    const r = await run(s.store, req);
    ctx.log.info({ op: req?.op, realm: (req as { realm?: string })?.realm, result: r.type, code: r.type === 'error' ? r.code : undefined }, 'provisioning request');
    return reply(r, s);
  },
};

export async function provisionOnNode(rt: Runtime, req: ProvisionRequest): Promise<ProvisionResult> {
  if (rt.whereis(PROVISIONER) === undefined) return { type: 'error', code: 'unavailable', error: "the registrar app is not running on this node (fife apps start registrar)" };
  return GenServer.call<ProvisionResult>(rt, PROVISIONER, req, 30_000);
}
