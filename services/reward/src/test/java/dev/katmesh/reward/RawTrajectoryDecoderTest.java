package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RejectReason;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RawTrajectoryDecoderTest {

    private final RawTrajectoryDecoder decoder = new RawTrajectoryDecoder(64 * 1024);

    private static Trajectory trajectory() {
        return Trajectory.newBuilder()
                .setTrajectoryId("t-1")
                .setGroupId("g-1")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("héllo"))
                .build();
    }

    @Test
    void readsJsonAndProtobufByContentType() throws Exception {
        Trajectory t = trajectory();
        assertEquals(
                "t-1",
                decoder.decode(TrajectoryJson.write(t), "application/json; charset=utf-8")
                        .trajectory()
                        .getTrajectoryId());
        assertEquals(
                t, decoder.decode(t.toByteArray(), "application/x-protobuf").trajectory());
        assertEquals(t, decoder.decode(t.toByteArray(), "application/protobuf").trajectory());
    }

    @Test
    void withoutAContentTypeTheFirstByteDecides() throws Exception {
        Trajectory t = trajectory();
        assertEquals(
                RawTrajectoryDecoder.JSON,
                decoder.decode(
                                ("  " + new String(TrajectoryJson.write(t), StandardCharsets.UTF_8))
                                        .getBytes(StandardCharsets.UTF_8),
                                null)
                        .format());
        assertEquals(
                RawTrajectoryDecoder.PROTOBUF,
                decoder.decode(t.toByteArray(), "").format());
    }

    @Test
    void refusesWithAReason() {
        Trajectory t = trajectory();
        byte[] proto = t.toByteArray();
        assertReason(RejectReason.EMPTY, new byte[0], "application/json");
        assertReason(RejectReason.OVERSIZED, new byte[64 * 1024 + 1], "application/x-protobuf");
        assertReason(RejectReason.UNSUPPORTED_CONTENT_TYPE, proto, "text/plain");
        assertReason(RejectReason.TRUNCATED_PROTOBUF, Arrays.copyOf(proto, proto.length - 3), "application/x-protobuf");
        assertReason(
                RejectReason.MALFORMED_PROTOBUF, new byte[] {(byte) 0xFF, (byte) 0xFF, 0x00}, "application/x-protobuf");
        assertReason(
                RejectReason.MISSING_FIELD,
                Trajectory.newBuilder().setTrajectoryId("t").build().toByteArray(),
                "application/x-protobuf");
        assertReason(
                RejectReason.MALFORMED_JSON,
                "{\"trajectory_id\":\"t\"".getBytes(StandardCharsets.UTF_8),
                "application/json");
        assertReason(
                RejectReason.WRONG_TYPE, "{\"trajectory_id\":[]}".getBytes(StandardCharsets.UTF_8), "application/json");
        byte[] badUtf8 = "{\"trajectory_id\":\"t\u00ff\"}".getBytes(StandardCharsets.ISO_8859_1);
        assertReason(RejectReason.INVALID_UTF8, badUtf8, "application/json");
        // A protobuf string field (field 1, wire type 2) holding an invalid UTF-8 byte.
        assertReason(RejectReason.INVALID_UTF8, new byte[] {0x0A, 0x01, (byte) 0xC3}, "application/x-protobuf");
        // A JSON escape of a lone surrogate: no UTF-8 form, so refused rather than written lossily into protobuf.
        assertReason(
                RejectReason.INVALID_UTF8,
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}"
                        .getBytes(StandardCharsets.UTF_8),
                "application/json");
        // The same surrogate as raw bytes (CESU-8 style ED A0 80): not UTF-8 either.
        byte[] cesu =
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":\"#\"}]}"
                        .getBytes(StandardCharsets.UTF_8);
        int hash = new String(cesu, StandardCharsets.UTF_8).indexOf('#');
        byte[] withSurrogate = new byte[cesu.length + 2];
        System.arraycopy(cesu, 0, withSurrogate, 0, hash);
        withSurrogate[hash] = (byte) 0xED;
        withSurrogate[hash + 1] = (byte) 0xA0;
        withSurrogate[hash + 2] = (byte) 0x80;
        System.arraycopy(cesu, hash + 1, withSurrogate, hash + 3, cesu.length - hash - 1);
        assertReason(RejectReason.INVALID_UTF8, withSurrogate, "application/json");
    }

    private void assertReason(RejectReason reason, byte[] value, String contentType) {
        RejectedTrajectoryException e =
                assertThrows(RejectedTrajectoryException.class, () -> decoder.decode(value, contentType));
        assertEquals(reason, e.reason(), e.getMessage());
    }
}
