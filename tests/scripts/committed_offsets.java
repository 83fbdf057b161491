// Prints a consumer group's committed offsets, one "topic partition offset" line each, sorted,
// through Kafka's Admin API: it does not join the group, so a test can read them while a
// killed member still holds the partitions (until its session times out).
//   java -cp "KAFKA_LIBS/*" tests/scripts/committed_offsets.java BROKERS GROUP
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

public class CommittedOffsets {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    try (Admin admin = Admin.create(props)) {
      Map<TopicPartition, OffsetAndMetadata> offsets =
          admin.listConsumerGroupOffsets(args[1]).partitionsToOffsetAndMetadata().get();
      List<String> lines = new ArrayList<>();
      for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
        if (e.getValue() == null) continue;
        lines.add(e.getKey().topic() + " " + e.getKey().partition() + " " + e.getValue().offset());
      }
      Collections.sort(lines);
      lines.forEach(System.out::println);
    }
  }
}
