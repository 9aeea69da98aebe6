package io.orion.dedup.cache;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Snapshot of one cache: hits, misses, hit rate, evictions, current weight and limit in bytes. */
public record CacheStats(@JsonProperty("hits") long hits, @JsonProperty("misses") long misses,
                         @JsonProperty("hit_rate") double hitRate, @JsonProperty("evictions") long evictions,
                         @JsonProperty("weight_bytes") long weightBytes,
                         @JsonProperty("limit_bytes") long limitBytes) {
}
