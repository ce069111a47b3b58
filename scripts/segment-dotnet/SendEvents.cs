// Sends an identify, some track calls, a page and a group through Segment's .NET library
// (Analytics.NET 3.8.1, vendored unmodified in test/clients/vendor/analytics-dotnet), the way a .NET
// backend would, to an Inkstream collector. test/ingest/segment-dotnet.test.ts compiles it together
// with the library's sources using Debian's Mono (mcs, with Debian's Newtonsoft.Json) and runs it:
//
//   mcs -out:send_events.exe -r:System.Net.Http -r:/usr/lib/cli/Newtonsoft.Json-5.0/Newtonsoft.Json.dll \
//     scripts/segment-dotnet/SendEvents.cs $(find test/clients/vendor/analytics-dotnet/Analytics -name '*.cs')
//   mono send_events.exe URL WRITE_KEY USER_ID
//
// The library posts its batches to URL/v1/import with the write key as the Basic auth username.
// Its messageIds are its own (Guid.NewGuid), read back from its Succeeded and Failed events. This
// prints "ok <messageId>" per message the library reports sent, "failed <messageId> <error>" per
// message it reports failed, "error <message>" for what its logger reports at level ERROR (an event
// dropped as too large, a flush that threw), and exits 1 unless all messages were reported sent.
using System;
using System.Collections.Generic;
using Segment;
using Segment.Model;

static class SendEvents
{
    static int Main(string[] args)
    {
        string url = args[0], writeKey = args[1], userId = args[2];
        var report = new object();
        var sent = new List<string>();
        var problems = new List<string>();

        Logger.Handlers += (level, message, data) =>
        {
            if (level != Logger.Level.ERROR) return;
            lock (report) problems.Add("error " + message);
        };

        // Async (the default): calls are queued and sent by Flush(), or by the library's timer
        // every 10 s, in batches of up to 20 (flushAt).
        var client = new Client(writeKey, new Config().SetHost(url));
        client.Succeeded += (action) =>
        {
            lock (report) sent.Add(action.MessageId);
        };
        client.Failed += (action, e) =>
        {
            lock (report) problems.Add("failed " + action.MessageId + " " + e.Message.Replace('\n', ' '));
        };

        client.Identify(userId, new Traits {
            { "email", userId + "@example.com" }, { "firstName", "Net" }, { "plan", "pro" },
        });
        client.Track(userId, "Product Viewed", new Properties {
            { "product_id", "p-3" }, { "name", "Mug" }, { "price", 12 },
        });
        var revenues = new[] { 40, 15 };
        for (var i = 0; i < revenues.Length; i++)
        {
            client.Track(userId, "Order Completed", new Properties {
                { "order_id", userId + "-" + i }, { "revenue", revenues[i] },
            });
        }
        client.Page(userId, "Pricing", new Properties { { "path", "/pricing" } });
        client.Group(userId, "acme", new Traits { { "name", "Acme" } });
        const int Queued = 6;

        // Blocks until every queued message was posted (or given up on).
        client.Flush();
        client.Dispose();

        lock (report)
        {
            foreach (var id in sent) Console.WriteLine("ok " + id);
            foreach (var problem in problems) Console.WriteLine(problem);
            var reported = sent.Count + problems.Count;
            if (reported < Queued)
                Console.WriteLine("failed " + (Queued - reported) + " messages were never reported");
            return problems.Count == 0 && sent.Count == Queued ? 0 : 1;
        }
    }
}
