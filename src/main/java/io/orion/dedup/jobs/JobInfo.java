package io.orion.dedup.jobs;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * A job as {@code job list}, {@code job show} and their {@code --json} show it: a snapshot taken
 * when asked. Times are ISO-8601 UTC; figures unknown (not started, nothing to do) are null.
 *
 * @param id the job's number (unique for the data directory, across restarts)
 * @param kind {@code scrub}, {@code cleanup}, {@code compression-optimize} or {@code post-process}
 * @param state {@code queued}, {@code running}, {@code done}, {@code failed}, {@code cancelled}
 * @param trigger {@code admin} (a command) or {@code schedule} ({@code scrub_interval})
 * @param submittedAt when it was asked for
 * @param startedAt when it began running, or null while queued
 * @param endedAt when it finished, or null
 * @param durationSeconds running time so far, or in all when finished
 * @param bytesDone bytes handled so far (scrub: record bytes read; cleanup: bytes copied;
 *     compression-optimize: record bytes scanned)
 * @param bytesTotal bytes the job will handle, or null before it knows
 * @param progress {@code bytesDone / bytesTotal} (0..1), or null
 * @param rateBytesPerSecond average rate since the start, or null
 * @param etaSeconds estimated seconds left at that rate, or null
 * @param throttleBytesPerSecond the {@code [jobs]} rate limit, or null when unthrottled
 * @param outcome {@code success}, {@code errors} (completed, found problems), {@code failed},
 *     {@code cancelled}; null while not finished
 * @param summary a few words about the outcome, e.g. {@code 0 errors}
 * @param error why it failed, or null
 * @param result the work's figures (as the matching command prints them), or null
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobInfo(@JsonProperty("id") long id,
                      @JsonProperty("kind") JobKind kind,
                      @JsonProperty("state") JobState state,
                      @JsonProperty("trigger") String trigger,
                      @JsonProperty("submitted_at") String submittedAt,
                      @JsonProperty("started_at") String startedAt,
                      @JsonProperty("ended_at") String endedAt,
                      @JsonProperty("duration_seconds") Double durationSeconds,
                      @JsonProperty("bytes_done") long bytesDone,
                      @JsonProperty("bytes_total") Long bytesTotal,
                      @JsonProperty("progress") Double progress,
                      @JsonProperty("rate_bytes_per_second") Long rateBytesPerSecond,
                      @JsonProperty("eta_seconds") Long etaSeconds,
                      @JsonProperty("throttle_bytes_per_second") Long throttleBytesPerSecond,
                      @JsonProperty("outcome") String outcome,
                      @JsonProperty("summary") String summary,
                      @JsonProperty("error") String error,
                      @JsonProperty("result") Map<String, Object> result) {

    public static final String SUCCESS = "success";
    public static final String ERRORS = "errors";
    public static final String FAILED = "failed";
    public static final String CANCELLED = "cancelled";
}
