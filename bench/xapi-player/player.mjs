// A course player session against Podium's LRS with the @xapi/xapi client library:
// launch, resume (no state yet), progress with statements, suspend (save state),
// relaunch in a new client (as on the next page load), resume from the saved state,
// complete. Exits non-zero when the LRS does not give back what was written.
//
//   LRS_ENDPOINT=http://127.0.0.1:8000/xapi LRS_KEY=... LRS_SECRET=... node player.mjs
import { randomUUID } from "node:crypto";
import XAPI from "@xapi/xapi";

const endpoint = process.env.LRS_ENDPOINT ?? "http://127.0.0.1:8000/xapi";
const auth = XAPI.toBasicAuth(process.env.LRS_KEY ?? "", process.env.LRS_SECRET ?? "");
const learner = { objectType: "Agent", name: "Ada", mbox: `mailto:ada-${randomUUID()}@example.com` };
const course = { objectType: "Activity", id: `https://courses.example.com/fractions/${randomUUID()}` };
const registration = randomUUID();
const stateId = "https://w3id.org/xapi/scorm/activity-state";

function launch() {
  return new XAPI({ endpoint, auth, version: "1.0.3" });
}

function statement(verb, extra = {}) {
  return { actor: learner, verb, object: course, context: { registration }, ...extra };
}

async function resume(lrs) {
  try {
    const saved = await lrs.getState({ agent: learner, activityId: course.id, stateId, registration });
    return saved.data;
  } catch (error) {
    if (error.response?.status === 404) return null;
    throw error;
  }
}

function check(condition, message) {
  if (!condition) {
    console.error(`FAILED: ${message}`);
    process.exit(1);
  }
}

const started = Date.now();
let player = launch();
const ids = [];
ids.push(...(await player.sendStatement({ statement: statement(XAPI.Verbs.INITIALIZED) })).data);
check((await resume(player)) === null, "a new registration has no saved state");
for (let slide = 1; slide <= 5; slide += 1) {
  const progressed = statement(XAPI.Verbs.PROGRESSED, {
    result: { extensions: { "https://w3id.org/xapi/cmi5/result/extensions/progress": slide * 10 } },
  });
  ids.push(...(await player.sendStatement({ statement: progressed })).data);
}
const bookmark = { location: "slide-5", suspendData: "a1b2c3", answers: [3, 1, 4] };
await player.setState({ agent: learner, activityId: course.id, stateId, registration, state: bookmark });
ids.push(...(await player.sendStatement({ statement: statement(XAPI.Verbs.SUSPENDED) })).data);

player = launch(); // the next page load: a new client, nothing kept in memory
const resumed = await resume(player);
check(JSON.stringify(resumed) === JSON.stringify(bookmark), "the saved state is read back");
ids.push(...(await player.sendStatement({ statement: statement(XAPI.Verbs.RESUMED) })).data);
const completed = statement(XAPI.Verbs.COMPLETED, {
  result: { completion: true, success: true, score: { scaled: 0.9 }, duration: "PT12M" },
});
ids.push(...(await player.sendStatement({ statement: completed })).data);
await player.setState({
  agent: learner, activityId: course.id, stateId, registration, state: { ...bookmark, location: "end" },
});
const last = await player.getStatement({ statementId: ids.at(-1) });
check(last.data.verb.id === XAPI.Verbs.COMPLETED.id, "the completion is readable by id at once");
const final = await resume(player);
check(final.location === "end", "the last state wins");
console.log(JSON.stringify({ statements: ids.length, resumedFrom: resumed.location, ms: Date.now() - started }));
