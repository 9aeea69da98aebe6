package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static io.orion.dedup.server.AdminTools.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.orion.dedup.meta.LmdbPages;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged metadata against the real server: 24 MiB written through iSCSI (so that the block map,
 * 128 blocks per entry, spans at least three leaf pages), the server stopped, the
 * last byte (an entry's CRC32C) of three leaf pages of the block map in {@code data.mdb}
 * flipped, the server started again. It comes up read-only with the reason in {@code status} and
 * {@code stats}; {@code scrub} lists every damaged entry (not only the first) and exits 1; a write
 * fails; reading the LUN back either fails or returns exactly what was written.
 */
class MetadataDamageIT {
    private static final String IQN = ServerProcess.DEFAULT_IQN;

    private static String lun(ServerProcess server, long size) {
        return "driver=raw,offset=0,size=" + size + ",file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:"
                + server.port() + ",file.target=" + IQN + ",file.lun=0";
    }

    @Test
    void damagedMetadataIsReportedReadOnlyAndScrubExitsNonZero(@TempDir Path dir) throws Exception {
        byte[] content = new byte[24 << 20];
        new Random(4).nextBytes(content);
        Path file = dir.resolve("in.img");
        Files.write(file, content);
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        try (ServerProcess server = ServerProcess.start(data, targets, ServerProcess.freePort())) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "--target-image-opts", file.toString(),
                    lun(server, content.length)).assertOk();
            assertEquals(0, server.stop(Duration.ofSeconds(60)));
        }
        Path mdb = data.resolve("meta/data.mdb");
        List<Long> leaves = LmdbPages.of(mdb).leaves.get(io.orion.dedup.meta.MetaStore.BLOCK_PAGES);
        assertTrue(leaves.size() >= 3, "leaves: " + leaves);
        try (FileChannel ch = FileChannel.open(mdb, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int i = 0; i < 3; i++) {
                long pos = leaves.get(i * (leaves.size() - 1) / 2) * 4096 + 4095;
                ByteBuffer b = ByteBuffer.allocate(1);
                ch.read(b, pos);
                b.put(0, (byte) (b.get(0) ^ 0x10));
                ch.write(b.flip(), pos);
            }
        }
        try (ServerProcess server = ServerProcess.start(data, targets, ServerProcess.freePort())) {
            ExternalTool.Result status = cli(server, "status");
            assertEquals(0, status.exitCode(), status.output() + "\nserver log:\n"
                    + Files.readString(data.resolveSibling("data-server.log")));
            assertTrue(status.output().contains("READ-ONLY") && status.output().contains("metadata damaged"),
                    status.output());
            ExternalTool.Result stats = cli(server, "stats").assertOk();
            assertTrue(stats.output().contains("READ-ONLY"), stats.output());
            ExternalTool.Result scrub = cli(server, "scrub", "--json");
            assertEquals(1, scrub.exitCode(), scrub.output());
            JsonNode figures = json(scrub);
            assertEquals(3, figures.path("metadata_errors").asLong(), scrub.output());
            ExternalTool.Result write = ExternalTool.run(LIMIT, "qemu-io", "--image-opts", lun(server, content.length),
                    "-c", "write -P 0x55 0 4096");
            assertTrue(write.exitCode() != 0 || write.output().contains("failed"), write.output());
            Path back = dir.resolve("back.img");
            ExternalTool.Result read = ExternalTool.run(LIMIT, "qemu-img", "convert", "-f", "raw", "--image-opts",
                    lun(server, content.length), "-O", "raw", back.toString());
            if (read.exitCode() == 0) {
                assertTrue(java.util.Arrays.equals(content, Files.readAllBytes(back)), "read back GOOD but different");
            }
        }
    }
}
