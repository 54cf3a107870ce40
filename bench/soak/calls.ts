/**
 * Calls on a cluster (the soak bench and the cluster test): switch simulators, the account's
 * callflows, a steady stream of calls, and what is left of them.
 *
 * Topology: one simulator per ecallmgr node (`startCallSwitches`), each a `Switch` in the
 * harness's process (not inside a node, so a node killed leaves its switch up, as a
 * FreeSWITCH box outlives an ecallmgr). Not one simulator shared by the three ecallmgrs:
 * over the event socket every connected ecallmgr hears each CHANNEL_PARK and would route
 * the call (three route_req, three call_controls usurping each other); Kazoo's mod_kazoo
 * sends each dialplan fetch to one ecallmgr, which this project's event-socket ecallmgr
 * does not model.
 *
 * - `startCallSwitches(count, {bus, realm, logger})`: the simulators, each with a callee
 *   phone `callee<i>` (answers after ANSWER_MS, hangs up TALK_MS after answering) whose
 *   reg_success goes out on `bus`, as Kamailio publishes it.
 * - `provisionCallflows(store, accountId, realm, count)`: device `callee<i>` and a callflow
 *   `200<i>` -> `{module: device}` in the account (a phone-to-phone bridge, ecallmgr
 *   finding the callee with reg_query).
 * - `CallLoad`: places a call every `everyMs` on each switch in turn, from `caller<i>`
 *   (a trunk-like caller, not challenged) to `200<i>`, and follows each call:
 *   `bridged` (CHANNEL_BRIDGE on its A-leg), `abandoned` (not bridged PATIENCE_MS after it
 *   was placed: the harness hangs the A-leg up, as a caller hearing nothing would),
 *   `stuck` (its A-leg not destroyed by placed + PATIENCE_MS + ANSWER_MS + TALK_MS +
 *   GRACE_MS), overall and per switch. `stop()` stops placing and resolves once every call
 *   is settled.
 * - `registerCallees(switches, req, realm)`: registers the callee phones again until
 *   reg_query finds each (a reg_success sent before any registrar listened is lost).
 * - `callProcesses(admin)`: the calls that still have a process on a node (callflow
 *   executor `callflow_exe:<id>`, ecallmgr's `ecallmgr_call_control:<id>` or
 *   `ecallmgr_call_events:<id>`), from its `GET /tree`: call-id -> those names.
 * - `callsLeft(figures, switches, nodes)`, once every call settled: `aLegs` (the stuck
 *   A-legs), `legsLeft` (other channels still on the switches, not a leg of those),
 *   `onNodes` (calls with a process left on a node, polled for up to LEFT_WAIT_MS; not
 *   counted again when already stuck on a switch; with `only`, only those calls) and
 *   `procs` (`<node>: <names>`).
 */
import { Switch, type SwitchEvent } from '../../src/switch/index.ts';
import type { BusTransport, Requester } from '../../src/bus/index.ts';
import { pollUntil, regQuery, regQueryFound } from '../../test/support/cluster.ts';
import type { Logger } from '../../src/kernel/index.ts';
import { accountDbName, type DocumentStore } from '../../src/store/index.ts';
import { addDevice } from '../../apps/registrar/provisioning.ts';

export const ANSWER_MS = 200;
export const TALK_MS = 3000;
export const PATIENCE_MS = 15_000;
export const GRACE_MS = 30_000;

/** The callee phones' script. */
export const CALLEE_SCRIPT = { mode: 'auto', answerAfterMs: ANSWER_MS, hangupAfterMs: TALK_MS } as const;

export const calleeOf = (i: number): string => `callee${i}`;
export const numberOf = (i: number): string => `200${i}`;

export async function startCallSwitches(
  count: number,
  o: { bus: BusTransport; realm: string; logger: Logger },
): Promise<Switch[]> {
  const out: Switch[] = [];
  for (let i = 0; i < count; i++) {
    const sw = await Switch.start({
      port: 0,
      hostname: `soak-sw${i}`,
      logger: o.logger,
      bus: o.bus,
      registration: { realm: o.realm },
    });
    sw.registerEndpoint(calleeOf(i), CALLEE_SCRIPT);
    out.push(sw);
  }
  return out;
}

export async function provisionCallflows(
  store: DocumentStore,
  accountId: string,
  realm: string,
  count: number,
): Promise<void> {
  const db = accountDbName(accountId, 'encoded');
  for (let i = 0; i < count; i++) {
    const id = await addDevice(store, { realm, username: calleeOf(i), password: `pw-callee-${i}` });
    await store.save(db, {
      _id: `soak-callflow-${i}`,
      pvt_type: 'callflow',
      numbers: [numberOf(i)],
      flow: { module: 'device', data: { id, timeout: 10 }, children: {} },
    });
  }
}

export interface SwitchFigures {
  placed: number;
  bridged: number;
  abandoned: number;
  stuck: number;
}

export interface CallFigures {
  /** The same counts per switch (index as given). */
  bySwitch: SwitchFigures[];
  placed: number;
  bridged: number;
  abandoned: number;
  /** A-legs still up past their deadline (placed + patience + answer + talk + grace). */
  stuck: number;
  stuckIds: string[];
}

interface Followed {
  bridged: boolean;
  sw: number;
}

export class CallLoad {
  readonly figures: CallFigures;
  private readonly calls = new Map<string, Followed>();
  private readonly settled: Array<Promise<void>> = [];
  private readonly offs: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private next = 0;

  constructor(
    private readonly switches: Switch[],
    private readonly realm: string,
  ) {
    const zero = (): SwitchFigures => ({ placed: 0, bridged: 0, abandoned: 0, stuck: 0 });
    this.figures = { ...zero(), bySwitch: switches.map(zero), stuckIds: [] };
    for (const sw of switches)
      this.offs.push(
        sw.onEvent((ev: SwitchEvent) => {
          if (ev.name !== 'CHANNEL_BRIDGE' || ev.uuid === undefined) return;
          const c = this.calls.get(ev.uuid);
          if (c !== undefined && !c.bridged) {
            c.bridged = true;
            this.count(c.sw, 'bridged');
          }
        }),
      );
  }

  private count(sw: number, what: keyof SwitchFigures): void {
    this.figures[what]++;
    this.figures.bySwitch[sw]![what]++;
  }

  start(everyMs: number): void {
    this.timer = setInterval(() => this.placeOne(), everyMs);
  }

  placeOne(): string {
    const i = this.next++ % this.switches.length;
    const sw = this.switches[i]!;
    const uuid = sw.placeCall({
      from: `caller${i}`,
      to: numberOf(i),
      variables: { sip_from_host: this.realm },
    });
    const c: Followed = { bridged: false, sw: i };
    this.calls.set(uuid, c);
    this.count(i, 'placed');
    const destroyed = sw.whenDestroyed(uuid).then(() => true);
    const wait = (ms: number): Promise<false> => new Promise((r) => setTimeout(() => r(false), ms));
    this.settled.push(
      (async () => {
        if (!(await Promise.race([destroyed, wait(PATIENCE_MS)])) && !c.bridged) {
          this.count(i, 'abandoned');
          sw.hangup(uuid, 'ORIGINATOR_CANCEL');
        }
        if (!(await Promise.race([destroyed, wait(ANSWER_MS + TALK_MS + GRACE_MS)]))) {
          this.count(i, 'stuck');
          this.figures.stuckIds.push(uuid);
        }
      })(),
    );
    return uuid;
  }

  /** The A-legs of the calls placed on switch `i`. */
  callsOn(i: number): Set<string> {
    return new Set([...this.calls].filter(([, c]) => c.sw === i).map(([id]) => id));
  }

  /** Stops placing calls; resolves once every call placed is settled (ended or stuck). */
  async stop(): Promise<CallFigures> {
    clearInterval(this.timer);
    await Promise.all(this.settled);
    for (const off of this.offs) off();
    return this.figures;
  }
}

/**
 * Phones registered: each callee's reg_success published again (one sent before the
 * registrars listened is lost) until reg_query finds it.
 */
export async function registerCallees(switches: Switch[], req: Requester, realm: string): Promise<void> {
  for (const [i, sw] of switches.entries()) {
    sw.registerEndpoint(calleeOf(i), CALLEE_SCRIPT);
    await pollUntil(
      async () => {
        const a = await regQuery(req, realm, calleeOf(i)).catch(() => undefined);
        return a !== undefined && regQueryFound(a, `sip:${calleeOf(i)}@`);
      },
      `${calleeOf(i)} registered`,
    );
  }
}

const CALL_PROCESS = /^(?:callflow_exe|ecallmgr_call_control|ecallmgr_call_events):(.+)$/;

/** The processes of calls on the node whose admin endpoint is `admin`: call-id -> names. */
export async function callProcesses(admin: string): Promise<Map<string, string[]>> {
  const tree = (await (await fetch(`${admin}/tree`)).json()) as unknown;
  const ids = new Map<string, string[]>();
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else if (x !== null && typeof x === 'object') {
      const name = (x as { name?: unknown }).name;
      const m = typeof name === 'string' ? CALL_PROCESS.exec(name) : null;
      if (m) ids.set(m[1]!, [...(ids.get(m[1]!) ?? []), name as string]);
      for (const v of Object.values(x)) walk(v);
    }
  };
  walk(tree);
  return ids;
}

/** How long processes of calls that ended may take to end (executor's 10 s hang-up wait). */
export const LEFT_WAIT_MS = 30_000;

export async function callsLeft(
  figures: CallFigures,
  switches: Switch[],
  nodes: Array<{ name: string; admin: string }>,
  only?: Set<string>,
): Promise<{ aLegs: string[]; legsLeft: string[]; onNodes: string[]; procs: string[] }> {
  const aLegs = new Set(figures.stuckIds);
  const legsLeft = switches
    .flatMap((sw) => sw.channels())
    .filter((c) => !aLegs.has(c.uuid) && (c.otherLeg === undefined || !aLegs.has(c.otherLeg)))
    .map((c) => c.uuid);
  const known = new Set([...aLegs, ...legsLeft]);
  let onNodes: string[] = [];
  let procs: string[] = [];
  await pollUntil(
    async () => {
      const left = await Promise.all(
        nodes.map(async (n) =>
          [...(await callProcesses(n.admin))]
            .filter(([id]) => !known.has(id) && (only === undefined || only.has(id)))
            .map(([id, names]) => ({ id, node: n.name, names })),
        ),
      );
      onNodes = [...new Set(left.flat().map((x) => x.id))];
      procs = left.flat().map((x) => `${x.node}: ${x.names.join(', ')}`);
      return onNodes.length === 0;
    },
    'call processes to end',
    LEFT_WAIT_MS,
  ).catch(() => undefined); // what is left is the answer
  return { aLegs: [...aLegs], legsLeft, onNodes, procs };
}
