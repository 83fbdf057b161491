// Creates a topic of N partitions on a broker (for benchmarks that compare partition counts on
// one broker, whose auto-created topics all get num.partitions). Run as a single-file program:
//   java -cp "$KLAXON_KAFKA_CACHE/libs/*" bench/create_topic.java BROKERS TOPIC PARTITIONS
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

public class create_topic {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    try (Admin admin = Admin.create(props)) {
      admin.createTopics(List.of(new NewTopic(args[1], Integer.parseInt(args[2]), (short) 1)))
          .all()
          .get();
    }
  }
}
