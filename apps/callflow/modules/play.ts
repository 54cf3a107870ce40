/**
 * cf_play: plays a media file (`play`, Media-Name from data `id`: a media document id or
 * a URL, see media.ts), waits for it to end, then the `_` child. Data: `id` (required),
 * `terminators` (list of DTMF digits that stop it), `answer` (answer first when true).
 */
import { firstProblem, next, reqString, type CfModule } from './module.ts';
import { mediaPath } from './media.ts';

export const play: CfModule = {
  name: 'play',
  check: (d) =>
    firstProblem(
      reqString(d, 'id'),
      d.terminators === undefined || Array.isArray(d.terminators) ? undefined : 'terminators must be a list',
    ),
  async run(data, call) {
    if (data.answer === true) await call.exec('answer');
    const fields: Record<string, unknown> = { 'Media-Name': mediaPath(String(data.id), call.info.accountId) };
    if (Array.isArray(data.terminators)) fields.Terminators = data.terminators.map(String);
    await call.exec('play', fields);
    return next();
  },
};
