/**
 * Media names as the switch plays them (Kazoo's kz_media_util:media_path): a URL or a
 * path (`http://…`, `tts://…`, `silence_stream://…`, `/…`) is played as given; a media
 * document id becomes `/<account-id>/<media-id>`. The error prompt is Kazoo's system
 * prompt `fault-can_not_be_completed_at_this_time`.
 */
export const ERROR_PROMPT = 'prompt://system_media/fault-can_not_be_completed_at_this_time/en-us';

export function mediaPath(id: string, accountId: string): string {
  return id.includes('://') || id.startsWith('/') ? id : `/${accountId}/${id}`;
}
