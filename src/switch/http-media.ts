/**
 * The simulator's HTTP media: recordings uploaded with `http_put` / `kz_http_put`, and
 * `playback` of an http(s) URL.
 *
 * Contract
 * - `fileApi(files, opts)` gives the api commands, arguments as FreeSWITCH takes them:
 *   `http_put <url> <file>` (mod_http_cache) and `kz_http_put <url> <file>` (mod_kazoo; a
 *   `{k=v}` prefix on the url is accepted and ignored), and `http_post <url> <file>` (the
 *   same with HTTP POST: Kazoo's store asks for it). The file must be in the switch's
 *   file table (files.ts): it is sent as a WAV of its recorded length (wav.ts) with HTTP
 *   PUT, Content-Type audio/wav. Answers, never thrown:
 *   `+OK <file> saved to <url> (HTTP <status>)` for 200/201/202/204 (mod_kazoo's success
 *   statuses); `-ERR error opening file <file>: No such file or directory`;
 *   `-ERR Received HTTP error <status> trying to save <file> to <url>` for another
 *   status, and status 0 with `: <reason>` when no answer came (connection refused, bad
 *   URL, or no answer within `timeoutMs`). kz_http_put removes the file after a success,
 *   as mod_kazoo does; http_put keeps it. User and password in a URL are shown as `***`.
 * - `fileApps(files, opts)` wraps two dialplan applications: `record <path>` puts its file
 *   in the table with the recorded length (record_ms) when it stops (before anything can
 *   read RECORD_STOP); `playback` of an http(s) URL first GETs it: a failed GET (no
 *   answer, a status other than 2xx) plays nothing (no PLAYBACK_START/STOP) and completes
 *   with `FILE NOT FOUND`, as FreeSWITCH's playback does for a file it cannot open; a
 *   fetched WAV plays for its own length (other bodies for `media.playbackMs`). A local
 *   file in the table plays for its recorded length. A hang-up aborts the GET.
 * - Every transfer is logged (debug when it worked, warn when not) with the call_id when a
 *   call asked for it; bodies are bounded (`maxBodyBytes`, 64 MiB).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../kernel/log.ts';
import { APPLICATIONS, type Application, type AppContext } from './apps.ts';
import type { SwitchFiles } from './files.ts';
import { silenceWav, wavDurationMs } from './wav.ts';

export interface HttpMediaOptions {
  /** Longest wait for an HTTP answer, in ms (default 10 000). */
  timeoutMs: number;
  log: Logger;
  /** Largest body fetched or sent (default 64 MiB). */
  maxBodyBytes?: number;
}

type Transfer = { status: number; body: Buffer } | { error: string };

/** Shows a URL without its user and password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '***';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** One HTTP exchange; never rejects. */
export function transfer(
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  o: { timeoutMs: number; maxBodyBytes: number; body?: Buffer; contentType?: string; signal?: AbortSignal },
): Promise<Transfer> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve({ error: 'bad URL' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return Promise.resolve({ error: `unsupported URL scheme ${u.protocol}` });
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Transfer>((resolve) => {
    let done = false;
    const finish = (t: Transfer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(t);
    };
    const headers: Record<string, string | number> = { 'User-Agent': 'fife-switch-sim/1.0' };
    if (o.body !== undefined) {
      headers['Content-Type'] = o.contentType ?? 'application/octet-stream';
      headers['Content-Length'] = o.body.length;
    }
    const req = send(u, { method, headers, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > o.maxBodyBytes) {
          req.destroy();
          finish({ error: `answer larger than ${o.maxBodyBytes} bytes` });
        } else chunks.push(c);
      });
      res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', (err) => finish({ error: err.message }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ error: `no answer within ${o.timeoutMs} ms` });
    }, o.timeoutMs);
    const onAbort = (): void => {
      req.destroy();
      finish({ error: 'aborted' });
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish({ error: err.message }));
    req.end(o.body);
  });
}

const OK_STATUS = new Set([200, 201, 202, 204]);

export function fileApi(
  files: SwitchFiles,
  opts: HttpMediaOptions,
): Record<string, (args: string) => Promise<string>> {
  const max = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const put = async (
    name: string,
    args: string,
    removeOnSuccess: boolean,
    method: 'PUT' | 'POST' = 'PUT',
  ): Promise<string> => {
    const argv = args
      .trim()
      .split(/\s+/)
      .filter((a) => a !== '');
    if (argv.length !== 2) return `-ERR USAGE: ${name} <url> <file>\n`;
    const url = (argv[0] ?? '').replace(/^\{[^}]*\}/, '');
    const file = argv[1] ?? '';
    const shown = redactUrl(url);
    const ms = files.get(file);
    if (ms === undefined) {
      opts.log.warn({ api: name, file }, 'http_put: no such file');
      return `-ERR error opening file ${file}: No such file or directory\n`;
    }
    const r = await transfer(method, url, {
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: max,
      body: silenceWav(ms),
      contentType: 'audio/wav',
    });
    if ('status' in r && OK_STATUS.has(r.status)) {
      if (removeOnSuccess) files.remove(file);
      opts.log.debug({ api: name, file, url: shown, status: r.status, ms }, 'file uploaded');
      return `+OK ${file} saved to ${shown} (HTTP ${r.status})\n`;
    }
    const status = 'status' in r ? r.status : 0;
    const why = 'error' in r ? `: ${r.error}` : '';
    opts.log.warn(
      { api: name, file, url: shown, status, why: 'error' in r ? r.error : undefined },
      'upload failed',
    );
    return `-ERR Received HTTP error ${status} trying to save ${file} to ${shown}${why}\n`;
  };
  return {
    http_put: (args) => put('http_put', args, false),
    kz_http_put: (args) => put('kz_http_put', args, true),
    http_post: (args) => put('http_post', args, false, 'POST'),
  };
}

function base(name: string): Application {
  const app = APPLICATIONS[name];
  if (app === undefined) throw new Error(`no application ${name}`);
  return app;
}

const withPlaybackMs = (ctx: AppContext, ms: number): AppContext => ({
  ...ctx,
  media: { ...ctx.media, playbackMs: ms },
});

export function fileApps(files: SwitchFiles, opts: HttpMediaOptions): Record<string, Application> {
  const record = base('record');
  const playback = base('playback');
  const max = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  return {
    record: async (ctx) => {
      const response = await record(ctx);
      const path = ctx.arg.trim().split(/\s+/)[0] ?? '';
      if (path !== '') files.put(path, Number(ctx.ch.variables.get('record_ms') ?? 0));
      return response;
    },
    playback: async (ctx) => {
      const file = ctx.arg.trim();
      if (!/^https?:\/\//i.test(file)) {
        const ms = files.get(file);
        return playback(ms === undefined ? ctx : withPlaybackMs(ctx, ms));
      }
      const r = await transfer('GET', file, {
        timeoutMs: opts.timeoutMs,
        maxBodyBytes: max,
        signal: ctx.signal,
      });
      if ('error' in r || r.status < 200 || r.status > 299) {
        ctx.log.warn(
          {
            url: redactUrl(file),
            status: 'status' in r ? r.status : undefined,
            why: 'error' in r ? r.error : undefined,
          },
          'playback: cannot fetch the file',
        );
        ctx.ch.variables.set('playback_terminator_used', '');
        return 'FILE NOT FOUND';
      }
      return playback(withPlaybackMs(ctx, wavDurationMs(r.body) ?? ctx.media.playbackMs));
    },
  };
}
