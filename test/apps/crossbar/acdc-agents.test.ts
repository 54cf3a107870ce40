/**
 * Agents over crossbar (apps/crossbar/acdc-routes.ts): crossbar and the acdc tree on one
 * embedded bus, a real HTTP client. An account with user `agent` (an acdc agent of queue
 * `sales`): its status read, and login / pause / resume / logout sent as Kazoo's
 * cb_agents `POST /agents/{id}/status` does.
 */
import { afterEach, expect, it } from 'vitest';
import { addAccount } from '../../../apps/registrar/provisioning.ts';
import { addUser } from '../../../apps/crossbar/operators.ts';
import { Supervisor } from '../../../src/kernel/index.ts';
import { acdcTree } from '../../../supervisors/acdc.sup.ts';
import { acdcSend } from '../../../apps/acdc/send.ts';
import { startCrossbar, type CbHarness } from './support.ts';

let cb: CbHarness | undefined;
afterEach(async () => {
  await cb?.close();
  cb = undefined;
});

it("an agent's status is read and changed over crossbar (login, pause, resume, logout); the queue's counts", async () => {
  cb = await startCrossbar();
  const c = cb;
  const accountId = await addAccount(c.store, { name: 'Center', realm: 'sip.center.test' });
  await addUser(c.store, { account: 'Center', username: 'Boss', password: 'boss-pass', admin: true });
  const token = await c.login('Center', 'boss', 'boss-pass');
  const r = await Supervisor.start(
    c.h.rt,
    acdcTree({
      bus: c.h.bus,
      node: c.h.rt.node,
      // The agent's phone answers at once and the call ends at once.
      device: () => ({
        ring: () => Promise.resolve({ answered: true, ended: Promise.resolve() }),
        stop: () => undefined,
      }),
      settings: {
        account_id: accountId,
        queues: [{ id: 'sales', collect_timeout: 0.3, retry_interval: 0.3 }],
        agents: [{ id: 'agent', queues: ['sales'] }],
      },
    }),
    { name: 'acdc_sup' },
  );
  expect(r.type).toBe('ok');
  const path = `/v2/accounts/${accountId}/agents/agent/status`;
  const status = async () => {
    const res = await c.call('GET', path, { token });
    expect(res.status, res.text).toBe(200);
    return res.body.data as Record<string, unknown>;
  };
  const until = async (want: string) => {
    for (const end = Date.now() + 10_000; (await status()).status !== want;) {
      if (Date.now() > end) throw new Error(`agent never ${want}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  await until('logged_out');
  expect(await status()).toMatchObject({
    agent_id: 'agent',
    status: 'logged_out',
    queues: ['sales'],
    calls: 0,
  });
  for (const [action, state] of [
    ['login', 'ready'],
    ['pause', 'paused'],
    ['resume', 'ready'],
    ['logout', 'logged_out'],
  ] as const) {
    const res = await c.call('POST', path, { token, data: { status: action } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({ status: action });
    await until(state);
  }
  const bad = await c.call('POST', path, { token, data: { status: 'dance' } });
  expect(bad.status).toBe(400);
  expect(bad.body.data).toHaveProperty('status');
  const nobody = await c.call('GET', `/v2/accounts/${accountId}/agents/nobody/status`, { token });
  expect(nobody.status).toBe(404);
  const anon = await c.call('GET', path);
  expect(anon.status).toBe(401);
  // The queue's counts: a caller who waits and leaves, one who is answered.
  const stats = async () => {
    const res = await c.call('GET', `/v2/accounts/${accountId}/queues/sales/stats`, { token });
    expect(res.status, res.text).toBe(200);
    return res.body.data as Record<string, number>;
  };
  const statsUntil = async (want: Record<string, number>) => {
    for (const end = Date.now() + 10_000; ;) {
      const v = await stats();
      if (Object.entries(want).every(([k, n]) => v[k] === n)) return v;
      if (Date.now() > end) throw new Error(`stats never ${JSON.stringify(want)}: ${JSON.stringify(v)}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const env = { bus: c.h.bus, ctx: { appName: 'test', appVersion: '1', node: c.h.rt.node }, accountId };
  const base = { 'Account-ID': accountId, 'Queue-ID': 'sales' };
  // Logged in but paused: callers wait (the last agent logging out would end their wait).
  await c.call('POST', path, { token, data: { status: 'login' } });
  await c.call('POST', path, { token, data: { status: 'pause' } });
  await until('paused');
  await acdcSend(env, 'member_call', { ...base, Call: { 'Call-ID': 'caller-1' } });
  await statsUntil({ waiting: 1, answered: 0, abandoned: 0 });
  await acdcSend(env, 'member_call_cancel', { ...base, 'Call-ID': 'caller-1', Reason: 'member_hangup' });
  await statsUntil({ waiting: 0, abandoned: 1 });
  await c.call('POST', path, { token, data: { status: 'resume' } });
  await until('ready');
  await acdcSend(env, 'member_call', { ...base, Call: { 'Call-ID': 'caller-2' } });
  const v = await statsUntil({ waiting: 0, answered: 1, abandoned: 1, agents_logged_in: 1 });
  expect(v.average_wait_ms).toBeGreaterThanOrEqual(0);
  expect((await status()).calls).toBe(1);
  expect((await c.call('GET', `/v2/accounts/${accountId}/queues/nope/stats`, { token })).status).toBe(404);
  const exited = c.h.rt.awaitExit(r.type === 'ok' ? r.pid : (undefined as never));
  if (r.type === 'ok') c.h.rt.exit(r.pid, 'shutdown');
  await exited;
});

it("the queue's talk times: from the answer to the agent's call ending, and callers talking now", async () => {
  cb = await startCrossbar();
  const c = cb;
  const accountId = await addAccount(c.store, { name: 'Talk', realm: 'sip.talk.test' });
  await addUser(c.store, { account: 'Talk', username: 'Boss', password: 'boss-pass', admin: true });
  const token = await c.login('Talk', 'boss', 'boss-pass');
  // The agent's phone answers at once; the call lasts until the test hangs it up.
  let hangup: () => void = () => undefined;
  const r = await Supervisor.start(
    c.h.rt,
    acdcTree({
      bus: c.h.bus,
      node: c.h.rt.node,
      device: () => ({
        ring: () => Promise.resolve({ answered: true, ended: new Promise<void>((res) => (hangup = res)) }),
        stop: () => undefined,
      }),
      settings: {
        account_id: accountId,
        queues: [{ id: 'sales', collect_timeout: 0.3, retry_interval: 0.3 }],
        agents: [{ id: 'agent', queues: ['sales'] }],
      },
    }),
    { name: 'acdc_sup' },
  );
  expect(r.type).toBe('ok');
  const stats = async () => {
    const res = await c.call('GET', `/v2/accounts/${accountId}/queues/sales/stats`, { token });
    return (res.status === 200 ? res.body.data : {}) as Record<string, number>;
  };
  const statsUntil = async (want: Record<string, number>) => {
    for (const end = Date.now() + 10_000; ;) {
      const v = await stats();
      if (Object.entries(want).every(([k, n]) => v[k] === n)) return v;
      if (Date.now() > end) throw new Error(`stats never ${JSON.stringify(want)}: ${JSON.stringify(v)}`);
    }
  };
  const path = `/v2/accounts/${accountId}/agents/agent/status`;
  await c.call('POST', path, { token, data: { status: 'login' } });
  await statsUntil({ agents_available: 1 });
  const env = { bus: c.h.bus, ctx: { appName: 'test', appVersion: '1', node: c.h.rt.node }, accountId };
  await acdcSend(env, 'member_call', {
    'Account-ID': accountId,
    'Queue-ID': 'sales',
    Call: { 'Call-ID': 'c-1' },
  });
  const during = await statsUntil({ answered: 1, talking: 1 });
  expect(during).toMatchObject({ average_talk_ms: 0, longest_talk_ms: 0 });
  const seenTalking = Date.now();
  await statsUntil({ talking: 1 }); // one more round trip while the call lasts
  const hungUpAt = Date.now();
  hangup();
  const after = await statsUntil({ answered: 1, talking: 0 });
  // The manager's talk started before the test saw it talking and ended after the hang-up.
  expect(after.longest_talk_ms).toBeGreaterThanOrEqual(hungUpAt - seenTalking);
  expect(after.longest_talk_ms).toBeGreaterThan(0);
  expect(after.average_talk_ms).toBe(after.longest_talk_ms);
  const exited = c.h.rt.awaitExit(r.type === 'ok' ? r.pid : (undefined as never));
  if (r.type === 'ok') c.h.rt.exit(r.pid, 'shutdown');
  await exited;
});

it("agents/stats: every agent's current state and counts; queue_status logs an agent in to and out of one queue", async () => {
  cb = await startCrossbar();
  const c = cb;
  const accountId = await addAccount(c.store, { name: 'Desk', realm: 'sip.desk.test' });
  await addUser(c.store, { account: 'Desk', username: 'Boss', password: 'boss-pass', admin: true });
  const token = await c.login('Desk', 'boss', 'boss-pass');
  const r = await Supervisor.start(
    c.h.rt,
    acdcTree({
      bus: c.h.bus,
      node: c.h.rt.node,
      device: () => ({
        ring: () => Promise.resolve({ answered: true, ended: Promise.resolve() }),
        stop: () => undefined,
      }),
      settings: {
        account_id: accountId,
        queues: [
          { id: 'sales', collect_timeout: 0.3, retry_interval: 0.3 },
          { id: 'support', collect_timeout: 0.3, retry_interval: 0.3 },
        ],
        agents: [
          { id: 'ann', queues: ['sales', 'support'] },
          { id: 'bob', queues: ['sales'] },
        ],
      },
    }),
    { name: 'acdc_sup' },
  );
  expect(r.type).toBe('ok');
  const base = `/v2/accounts/${accountId}/agents`;
  const stats = async () => {
    const res = await c.call('GET', `${base}/stats`, { token });
    expect(res.status, res.text).toBe(200);
    return res.body.data as Record<string, Record<string, unknown>>;
  };
  const until = async (what: string, ok: (s: Record<string, Record<string, unknown>>) => boolean) => {
    for (const end = Date.now() + 10_000; !ok(await stats());) {
      if (Date.now() > end) throw new Error(`agents/stats never showed ${what}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const queueStatus = (agent: string, data: Record<string, unknown>) =>
    c.call('POST', `${base}/${agent}/queue_status`, { token, data });
  // ann logs in to support alone; bob to all his queues.
  const res = await queueStatus('ann', { action: 'login', queue_id: 'support' });
  expect(res.status, res.text).toBe(200);
  expect(res.body.data).toEqual({ agent_id: 'ann', action: 'login', queue_id: 'support' });
  await c.call('POST', `${base}/bob/status`, { token, data: { status: 'login' } });
  await until('both ready', (s) => s.ann?.status === 'ready' && s.bob?.status === 'ready');
  const both = await stats();
  expect(both.ann).toMatchObject({ queues: ['sales', 'support'], logged_in_queues: ['support'], calls: 0 });
  expect(both.bob).toMatchObject({ queues: ['sales'], logged_in_queues: ['sales'], calls: 0 });
  const read = await c.call('GET', `${base}/ann/queue_status`, { token });
  expect(read.body.data).toEqual({
    agent_id: 'ann',
    queues: ['sales', 'support'],
    logged_in_queues: ['support'],
  });
  // A sales caller goes to bob: ann is not logged in to sales.
  const env = { bus: c.h.bus, ctx: { appName: 'test', appVersion: '1', node: c.h.rt.node }, accountId };
  await acdcSend(env, 'member_call', {
    'Account-ID': accountId,
    'Queue-ID': 'sales',
    Call: { 'Call-ID': 'c-1' },
  });
  await until('bob took the caller', (s) => s.bob?.calls === 1);
  expect((await stats()).ann).toMatchObject({ calls: 0 });
  await queueStatus('ann', { action: 'logout', queue_id: 'support' }); // her last queue
  await until('ann logged out', (s) => s.ann?.status === 'logged_out');
  expect((await stats()).ann).toMatchObject({ logged_in_queues: [] });
  const bad = await queueStatus('ann', { action: 'dance', queue_id: 'support' });
  expect(bad.status).toBe(400);
  expect(bad.body.data).toHaveProperty('action');
  const noQueue = await queueStatus('ann', { action: 'login' });
  expect(noQueue.status).toBe(400);
  expect(noQueue.body.data).toHaveProperty('queue_id');
  const exited = c.h.rt.awaitExit(r.type === 'ok' ? r.pid : (undefined as never));
  if (r.type === 'ok') c.h.rt.exit(r.pid, 'shutdown');
  await exited;
});
