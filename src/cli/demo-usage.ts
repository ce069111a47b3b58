/** `inkstream demo`'s usage line, apart from demo.ts so `inkstream --help` does not load the server. */
export const DEMO_USAGE = `demo [--rate <events/s>] [--port <n>] [--data-dir <dir>] [--reset]
                   the server with a demo shop: templates, segments, triggers, a campaign,
                   simulated shoppers (default 10 events/s) and recipients opening and clicking;
                   data in data/demo (--reset starts it afresh); Ctrl-C stops it`
