# frozen_string_literal: true

# Sends an identify, some track calls, a page and a group through Segment's Ruby library
# (analytics-ruby, vendored unmodified in test/clients/vendor/analytics-ruby), the way a Ruby
# backend would, to an Inkstream collector. test/ingest/segment-ruby.test.ts runs it with
#   /usr/bin/ruby -I test/clients/vendor/analytics-ruby/lib scripts/segment-ruby/send_events.rb \
#     URL WRITE_KEY USER_ID
# (Debian's ruby; the library needs only the standard library). The library posts its batches to
# /v1/import with the write key as the Basic auth username. This prints "ok <messageId>" per
# message once flushed, or "failed <messageId> <status> <error>" for every message when the library
# reports an error through on_error, and exits 1 unless all succeeded.
require 'logger'
require 'segment/analytics'
require 'uri'

# The library logs to stdout by default; stdout is for the lines below.
Segment::Analytics::Logging.logger = Logger.new($stderr, level: Logger::INFO)

url, write_key, user_id = ARGV
uri = URI(url)
errors = []
analytics = Segment::Analytics.new(
  write_key: write_key,
  host: uri.host,
  port: uri.port,
  retries: 1,
  on_error: proc { |status, error| errors << "#{status} #{error}" }
)
client = analytics.instance_variable_get(:@client)

# `ssl: false` does not work: Transport#initialize does `options[:ssl] ||= SSL`, which turns false
# into the default true (segmentio/analytics-ruby PR #277, open). Turn TLS off on its Net::HTTP.
transport = client.instance_variable_get(:@worker).instance_variable_get(:@transport)
transport.instance_variable_get(:@http).use_ssl = uri.scheme == 'https'

# The library makes the messageId inside Client#enqueue and returns only true/false: record the id
# of each message as it goes onto the client's queue.
message_ids = []
queue = client.instance_variable_get(:@queue)
queue.singleton_class.prepend(Module.new do
  define_method(:<<) do |message|
    message_ids << message[:messageId]
    super(message)
  end
end)

queued = [
  analytics.identify(user_id: user_id,
                     traits: { email: "#{user_id}@example.com", firstName: 'Ruby', plan: 'pro' }),
  analytics.track(user_id: user_id, event: 'Product Viewed',
                  properties: { product_id: 'p-9', name: 'Kettle', price: 45 }),
  analytics.track(user_id: user_id, event: 'Order Completed',
                  properties: { order_id: "#{user_id}-0", revenue: 60 }),
  analytics.page(user_id: user_id, name: 'Pricing', properties: { path: '/pricing' }),
  analytics.group(user_id: user_id, group_id: 'acme', traits: { name: 'Acme' })
]
analytics.flush

errors << "#{queued.count(false)} messages were not queued" unless queued.all?
if errors.empty? && message_ids.length == queued.length
  message_ids.each { |id| puts "ok #{id}" }
  exit 0
end
message_ids.each { |id| errors.each { |error| puts "failed #{id} #{error}" } }
puts "#{message_ids.length} message ids seen for #{queued.length} messages" if errors.empty?
exit 1
