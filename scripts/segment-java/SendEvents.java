// Sends an identify and some track calls through Segment's Java library (analytics-java), the way
// a Java backend would, to an Inkstream collector: test/ingest/segment-java.test.ts runs it with
//   java -cp '.cache/segment-java/libs/*' scripts/segment-java/SendEvents.java URL WRITE_KEY USER_ID
// (single-file source launch: nothing to build). It prints one line per message the library
// reports, "ok <messageId>" or "failed <messageId> <error>", and exits 1 unless all succeeded.
import com.segment.analytics.Analytics;
import com.segment.analytics.Callback;
import com.segment.analytics.messages.IdentifyMessage;
import com.segment.analytics.messages.Message;
import com.segment.analytics.messages.TrackMessage;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

public class SendEvents {
  public static void main(String[] args) throws Exception {
    String url = args[0], writeKey = args[1], userId = args[2];
    int[] orders = {25, 40, 15};
    int messages = 2 + orders.length;
    CountDownLatch done = new CountDownLatch(messages);
    AtomicInteger failed = new AtomicInteger();
    Analytics analytics = Analytics.builder(writeKey)
        .endpoint(url)
        .flushQueueSize(messages)
        .retries(1)
        .callback(new Callback() {
          public void success(Message m) {
            System.out.println("ok " + m.messageId());
            done.countDown();
          }
          public void failure(Message m, Throwable t) {
            System.out.println("failed " + m.messageId() + " " + t);
            failed.incrementAndGet();
            done.countDown();
          }
        })
        .build();
    analytics.enqueue(IdentifyMessage.builder()
        .userId(userId)
        .traits(Map.of("email", userId + "@example.com", "firstName", "Jay", "plan", "pro")));
    analytics.enqueue(TrackMessage.builder("Product Viewed")
        .userId(userId)
        .properties(Map.of("product_id", "p-3", "name", "Mug", "price", 12)));
    for (int i = 0; i < orders.length; i++) {
      analytics.enqueue(TrackMessage.builder("Order Completed")
          .userId(userId)
          .properties(Map.of("order_id", userId + "-" + i, "revenue", orders[i])));
    }
    analytics.flush();
    boolean all = done.await(30, TimeUnit.SECONDS);
    analytics.shutdown();
    if (!all) System.out.println("timeout waiting for the library's callbacks");
    System.exit(all && failed.get() == 0 ? 0 : 1);
  }
}
