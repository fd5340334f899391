package dev.katmesh.reward;

import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Where the reward's verdicts go: scored trajectories to katmesh.trajectories.scored and dead letters to
 * katmesh.trajectories.dlq. {@link KafkaOutcomeSink} in the service; the bean tests record them instead.
 */
interface OutcomeSink {

    /** Hands the record over without waiting; completes when the broker has it (acks=all), or fails. */
    CompletionStage<Void> send(ProducerRecord<String, byte[]> record);
}
