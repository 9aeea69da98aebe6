package io.orion.dedup.jobs;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One kind's line of {@code status}: its running job, its last finished one (kept across
 * restarts) and when the schedule starts the next.
 *
 * @param active the queued or running job, or null
 * @param last the last finished job, or null when none ever ran
 * @param lastSuccessAt when a job of this kind last ended with outcome {@code success}, or null
 * @param nextAt when {@code scrub_interval} starts the next one, or null (no schedule)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobSummary(@JsonProperty("kind") JobKind kind,
                         @JsonProperty("active") JobInfo active,
                         @JsonProperty("last") JobInfo last,
                         @JsonProperty("last_success_at") String lastSuccessAt,
                         @JsonProperty("next_at") String nextAt) {
}
