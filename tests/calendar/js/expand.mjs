// Read calendars with Mozilla's ical.js (Thunderbird's parser) as a client does and
// print every instance between two instants as JSON, one object per instance.
//
//   node expand.mjs START END < calendar.ics
//
// START and END are ISO instants. Each instance: {uid, start, end (UTC ISO), status,
// summary, recurrenceId}. Series are expanded with their overrides (relateException).
import ICAL from "ical.js";

const [start, end] = process.argv.slice(2).map((value) => new Date(value));
let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;

const out = [];
const calendars = input.split(/(?=BEGIN:VCALENDAR)/).filter((text) => text.trim());
for (const text of calendars) {
  const root = new ICAL.Component(ICAL.parse(text));
  for (const zone of root.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(new ICAL.Timezone(zone));
  }
  const masters = new Map();
  const exceptions = [];
  for (const component of root.getAllSubcomponents("vevent")) {
    const event = new ICAL.Event(component);
    if (component.hasProperty("recurrence-id")) exceptions.push(event);
    else masters.set(event.uid, event);
  }
  for (const exception of exceptions) {
    const master = masters.get(exception.uid);
    if (master) master.relateException(exception);
    else masters.set(`${exception.uid} ${exception.recurrenceId}`, exception);
  }
  for (const event of masters.values()) {
    const status = (item) => item.component.getFirstPropertyValue("status");
    const add = (item, startDate, endDate) => {
      const from = startDate.toJSDate();
      if (from < start || from >= end) return;
      out.push({
        uid: item.uid,
        start: from.toISOString(),
        end: endDate.toJSDate().toISOString(),
        status: status(item),
        summary: item.summary,
        recurrenceId: item.recurrenceId ? item.recurrenceId.toJSDate().toISOString() : null,
      });
    };
    if (!event.isRecurring()) {
      add(event, event.startDate, event.endDate);
      continue;
    }
    const iterator = event.iterator();
    for (let next = iterator.next(); next; next = iterator.next()) {
      if (next.toJSDate() >= end) break;
      const details = event.getOccurrenceDetails(next);
      add(details.item, details.startDate, details.endDate);
    }
  }
}
process.stdout.write(JSON.stringify(out));
