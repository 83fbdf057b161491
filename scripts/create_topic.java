// Creates a topic of N partitions on a broker: `scripts/kafka-broker create-topic`, and the
// benchmarks that compare partition counts on one broker (auto-created topics all get
// num.partitions). Run as a single-file program:
//   java -cp "$KLAXON_KAFKA_CACHE/libs/*" scripts/create_topic.java BROKERS TOPIC PARTITIONS
// Exits 1 with one line on stderr when the broker refuses (the topic exists, a bad name or
// count) or cannot be reached within 30 s.
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

public class create_topic {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("default.api.timeout.ms", "30000");
    try (Admin admin = Admin.create(props)) {
      admin.createTopics(List.of(new NewTopic(args[1], Integer.parseInt(args[2]), (short) 1)))
          .all()
          .get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      System.err.println("cannot create topic " + args[1] + ": " + e.getCause().getMessage());
      System.exit(1);
    } catch (java.util.concurrent.TimeoutException e) {
      System.err.println("cannot create topic " + args[1] + ": no answer from " + args[0]);
      System.exit(1);
    }
  }
}
