package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Space on one backing device: capacity (-1 when unlimited), bytes used by containers, free bytes (-1 when unlimited). */
public record DeviceStats(@JsonProperty("path") String path,
                          @JsonProperty("capacity_bytes") long capacityBytes,
                          @JsonProperty("containers") int containers,
                          @JsonProperty("used_bytes") long usedBytes,
                          @JsonProperty("free_bytes") long freeBytes,
                          @JsonProperty("file_bytes") long fileBytes) {
}
