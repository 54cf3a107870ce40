/**
 * The module table: callflow `module` name -> implementation. A new module is one file
 * in this folder and one line here.
 */
import type { CfModule } from './module.ts';
import { answer } from './answer.ts';
import { hangup } from './hangup.ts';
import { play } from './play.ts';
import { menu } from './menu.ts';
import { device } from './device.ts';
import { user } from './user.ts';
import { ringGroup } from './ring-group.ts';
import { callflow } from './callflow.ts';
import { voicemail } from './voicemail.ts';
import { acdcMember } from './acdc_member.ts';

export const MODULES: ReadonlyMap<string, CfModule> = new Map(
  [answer, hangup, play, menu, device, user, ringGroup, callflow, voicemail, acdcMember].map((m) => [
    m.name,
    m,
  ]),
);
