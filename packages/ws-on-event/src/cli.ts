import { runCli } from '@ws/core';
import { onEvent } from './on-event.js';

await runCli({
  name: 'ws-on-event',
  description: 'Follow the ws event stream: print each event as a JSON line, or run CMD once per event.',
  args: {
    type: { type: 'string', multiple: true, valueHint: 'GLOB', description: 'Only events whose type matches GLOB (service.*); repeatable, or comma-separated' },
    context: { type: 'string', multiple: true, valueHint: 'DIR|NAME', description: 'Only events of the context rooted at DIR or named NAME; repeatable' },
    snapshot: { type: 'boolean', description: 'First print one `snapshot` event per context with its current state' },
    once: { type: 'boolean', description: 'Exit after the first matching event (after its CMD ran)' },
    // multiple, so that a second --since is an error rather than silently winning.
    since: { type: 'string', multiple: true, valueHint: 'TS', description: 'First replay the events with ts >= TS (ISO-8601), then follow' },
  },
  rest: 'CMD ARGS...',
  help: `CMD runs once per event, one at a time, with WS_EVENT_TYPE, WS_EVENT_CONTEXT,
WS_EVENT_ROOT, WS_EVENT_JSON and WS_EVENT_<FIELD> for each top-level scalar field
in its environment. Without CMD each event is printed as one JSON line.

EXAMPLES
  ws-on-event | jq .
  ws-on-event --type 'service.*' --context . -- notify.sh
  ws-on-event -- sh -c 'redis-cli -p "$PORT" publish ws "$WS_EVENT_JSON"'

EXIT STATUS
  0 --once matched, or the reader of stdout went away; 130 SIGINT, 143 SIGTERM,
  129 SIGHUP; CMD's status after --once; 64 usage; 69 CMD not found;
  77 unsafe state home`,
  run: (ctx) => onEvent(ctx, { proc: process }),
});
