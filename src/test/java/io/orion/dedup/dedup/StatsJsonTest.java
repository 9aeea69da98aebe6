package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stats records serialise with the JSON names the CLI documents. */
class StatsJsonTest {
    @TempDir
    Path dir;

    @Test
    void poolAndVolumeStatsUseTheDocumentedJsonNames() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            v.write(0, ByteBuffer.wrap(PoolFixture.random(1, 8192)), false);
            v.write(2, ByteBuffer.wrap(PoolFixture.random(1, 8192)), false);
            PoolFixture.read(v, 0, 4);
            JsonNode j = new ObjectMapper().valueToTree(pool.stats());
            for (String k : new String[] {"logical_bytes", "zero_blocks", "unique_chunks", "unique_bytes", "stored_bytes",
                "reclaimable_bytes", "dedup_ratio", "compression_ratio", "saving_percent", "hash_mb_per_s"}) {
                assertTrue(j.has(k), k);
            }
            assertEquals(4 * 4096, j.get("logical_bytes").asLong());
            assertEquals(2, j.get("unique_chunks").asLong());
            assertEquals(2.0, j.get("dedup_ratio").asDouble(), 1e-9);
            assertTrue(j.get("block_cache").has("hit_rate"));
            assertTrue(j.get("fingerprint_cache").has("hit_rate"));
            JsonNode vol = j.get("volumes").get(0);
            assertEquals("lun", vol.get("name").asText());
            assertEquals(2, vol.get("unique_chunks").asLong());
            assertTrue(new ObjectMapper().valueToTree(pool.cleanup()).has("containers_compacted"));
            assertTrue(new ObjectMapper().valueToTree(pool.verify()).has("crc_errors"));
        }
    }
}
