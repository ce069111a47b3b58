"""Sends an identify, some track calls, a page and a group through Segment's Python library
(analytics-python, vendored unmodified in test/clients/vendor/analytics-python), the way a Python
backend would, to an Inkstream collector. test/ingest/segment-python.test.ts runs it with
  PYTHONPATH=test/clients/vendor/analytics-python \
    /usr/bin/python3 scripts/segment-python/send_events.py URL WRITE_KEY USER_ID
(Debian's python3 with python3-requests, python3-backoff, python3-dateutil and python3-jwt).
The library posts its batches to URL/v1/batch with the write key in the body. This prints
"ok <messageId>" per message once flushed, or "failed <messageId> <error>" for each message the
library reports through on_error, and exits 1 unless all succeeded.
"""
import sys

from segment.analytics.client import Client

url, write_key, user_id = sys.argv[1:4]
failures = []


def on_error(error, batch):
    for msg in batch:
        failures.append((msg.get('messageId'), error))


client = Client(write_key, host=url, on_error=on_error, max_retries=1)
queued = [
    client.identify(user_id, {'email': user_id + '@example.com', 'firstName': 'Py', 'plan': 'pro'}),
    client.track(user_id, 'Product Viewed', {'product_id': 'p-7', 'name': 'Teapot', 'price': 30}),
]
for i, revenue in enumerate([20, 35]):
    queued.append(client.track(user_id, 'Order Completed', {'order_id': '%s-%d' % (user_id, i), 'revenue': revenue}))
queued.append(client.page(user_id, name='Pricing', properties={'path': '/pricing'}))
queued.append(client.group(user_id, 'acme', {'name': 'Acme'}))
client.flush()
client.shutdown()

for success, msg in queued:
    if not success:
        failures.append((msg['messageId'], 'the library did not queue it'))
failed = {message_id for message_id, _ in failures}
for message_id, error in failures:
    print('failed %s %s' % (message_id, error))
for _, msg in queued:
    if msg['messageId'] not in failed:
        print('ok %s' % msg['messageId'])
sys.exit(1 if failures else 0)
