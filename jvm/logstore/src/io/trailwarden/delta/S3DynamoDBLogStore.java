/*
 * trailwarden: a Delta Lake LogStore for S3 whose commits are made mutually exclusive by a
 * conditional put into DynamoDB, so that writers on different hosts can share one table.
 *
 * It follows the external-commit protocol that Delta Lake documents for its own
 * delta-storage-s3-dynamodb module (https://docs.delta.io/latest/delta-storage.html), and reads
 * the same configuration keys and writes the same DynamoDB item layout, so the two are
 * interchangeable: switching is a change of spark.delta.logStore.s3a.impl only.
 *
 * Commit of version N of a table (overwrite=false):
 *   0. fail if N.json exists;
 *   1. make sure N-1.json exists, finishing N-1 from its DynamoDB entry if a writer died half-way;
 *   2. write the actions to a temporary file T in _delta_log/.tmp/;
 *   3. put the entry (tablePath, N.json) -> (T, complete=false) only if it does not exist: this
 *      conditional put is the mutual exclusion; the loser gets FileAlreadyExistsException, which
 *      Delta turns into a conflict check and a retry at N+1;
 *   4. copy T to N.json, then mark the entry complete with an expiry time (DynamoDB TTL).
 * A reader that lists the log first finishes the table's latest incomplete entry (steps 4).
 *
 * Items: tablePath (S, hash key), fileName (S, range key), tempPath (S, relative to _delta_log),
 * complete (S, "true"/"false"), expireTime (N, epoch seconds, set once complete).
 */
package io.trailwarden.delta;

import io.delta.storage.CloseableIterator;
import io.delta.storage.HadoopFileSystemLogStore;
import io.delta.storage.internal.FileNameUtils;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbClientBuilder;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.PutItemRequest;
import software.amazon.awssdk.services.dynamodb.model.ResourceInUseException;
import software.amazon.awssdk.services.dynamodb.model.ResourceNotFoundException;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;
import software.amazon.awssdk.services.dynamodb.model.TableStatus;

public class S3DynamoDBLogStore extends HadoopFileSystemLogStore {
    private static final Logger LOG = LoggerFactory.getLogger(S3DynamoDBLogStore.class);

    /** Keys are read under either prefix, as Delta's own store reads them. */
    static final String SPARK_PREFIX = "spark.io.delta.storage.S3DynamoDBLogStore.";
    static final String BASE_PREFIX = "io.delta.storage.S3DynamoDBLogStore.";

    private static final String TABLE_PATH = "tablePath";
    private static final String FILE_NAME = "fileName";
    private static final String TEMP_PATH = "tempPath";
    private static final String COMPLETE = "complete";
    private static final String EXPIRE_TIME = "expireTime";
    private static final int FIX_ATTEMPTS = 3;

    /** One client per (region, endpoint, credentials provider); one existence check per table. */
    private static final Map<String, DynamoDbClient> CLIENTS = new ConcurrentHashMap<>();
    private static final Set<String> READY_TABLES = ConcurrentHashMap.newKeySet();

    private final DynamoDbClient client;
    private final String tableName;
    private final long ttlSeconds;
    private final int readRetries;

    public S3DynamoDBLogStore(Configuration hadoopConf) throws IOException {
        super(hadoopConf);
        tableName = param(hadoopConf, "ddb.tableName", "delta_log");
        String region = param(hadoopConf, "ddb.region", "us-east-1");
        String endpoint = param(hadoopConf, "ddb.endpoint", "");
        String provider = param(hadoopConf, "credentials.provider", "");
        ttlSeconds = Long.parseLong(param(hadoopConf, "ddb.ttl", "86400"));
        readRetries = Integer.parseInt(param(hadoopConf, "read.retries", "3"));
        if (ttlSeconds < 0) {
            throw new IllegalArgumentException("ddb.ttl must not be negative: " + ttlSeconds);
        }
        client = CLIENTS.computeIfAbsent(
            region + "|" + endpoint + "|" + provider, k -> newClient(region, endpoint, provider));
        if (READY_TABLES.add(region + "|" + endpoint + "|" + tableName)) {
            ensureTable(Boolean.parseBoolean(param(hadoopConf, "ddb.createTable", "true")));
        }
        LOG.info("DynamoDB commit table {} in {}{}", tableName, region,
            endpoint.isEmpty() ? "" : " at " + endpoint);
    }

    // ---------------------------------------------------------------- LogStore API

    @Override
    public CloseableIterator<String> read(Path path, Configuration hadoopConf) throws IOException {
        // A recovery may copy T(N) onto N.json while it is read (same bytes, new ETag): retry.
        IOException last = null;
        for (int attempt = 0; attempt <= readRetries; attempt++) {
            List<String> lines = new ArrayList<>();
            try (CloseableIterator<String> it = super.read(path, hadoopConf)) {
                while (it.hasNext()) {
                    lines.add(it.next());
                }
                return new ListIterator(lines);
            } catch (IOException | UncheckedIOException e) {
                if (e instanceof java.io.FileNotFoundException) {
                    throw (IOException) e;
                }
                last = e instanceof IOException ? (IOException) e : ((UncheckedIOException) e).getCause();
                LOG.info("retrying read of {} after {}", path, e.toString());
            }
        }
        throw last;
    }

    @Override
    public Iterator<FileStatus> listFrom(Path path, Configuration hadoopConf) throws IOException {
        FileSystem fs = path.getFileSystem(hadoopConf);
        Path tablePath = tableOf(qualified(fs, path));
        Optional<Entry> latest = latestEntry(tablePath);
        if (latest.isPresent() && !latest.get().complete) {
            finish(fs, latest.get());
        }
        return super.listFrom(path, hadoopConf);
    }

    @Override
    public void write(Path path, Iterator<String> actions, Boolean overwrite,
                      Configuration hadoopConf) throws IOException {
        FileSystem fs = path.getFileSystem(hadoopConf);
        if (overwrite) {
            writeLines(fs, path, actions);
            return;
        }
        if (fs.exists(path)) {
            throw new FileAlreadyExistsException(path.toString());
        }
        Path target = qualified(fs, path);
        Path tablePath = tableOf(target);
        Path logDir = target.getParent();
        if (FileNameUtils.isDeltaFile(target)) {
            long version = FileNameUtils.deltaVersion(target);
            if (version > 0) {
                Path previous = FileNameUtils.deltaFile(logDir, version - 1);
                Optional<Entry> prev = entry(tablePath, previous.getName());
                if (prev.isPresent() && !prev.get().complete) {
                    finish(fs, prev.get());
                } else if (!fs.exists(previous)) {
                    throw new FileSystemException("previous commit " + previous + " doesn't exist");
                }
            } else {
                Optional<Entry> first = entry(tablePath, target.getName());
                if (first.isPresent() && first.get().complete && !fs.exists(target)) {
                    throw new FileSystemException("DynamoDB table " + tableName
                        + " still holds entries of a deleted Delta table at " + tablePath);
                }
            }
        }
        String tempPath = ".tmp/" + target.getName() + "." + UUID.randomUUID();
        Entry pending = new Entry(tablePath.toString(), target.getName(), tempPath, false, null);
        writeLines(fs, new Path(logDir, tempPath), actions);
        put(pending, false); // the mutual exclusion: throws FileAlreadyExistsException on a race
        try {
            copy(fs, new Path(logDir, tempPath), target);
            put(pending.completed(ttlSeconds), true);
        } catch (Throwable e) {
            // The commit is decided by the DynamoDB entry; the next reader or writer finishes it.
            LOG.warn("commit {} of {} left for recovery: {}", target.getName(), tablePath, e.toString());
        }
    }

    @Override
    public Boolean isPartialWriteVisible(Path path, Configuration hadoopConf) {
        return false;
    }

    // ---------------------------------------------------------------- protocol helpers

    /** Copy T(N) to N.json unless present, then mark the entry complete (retried a few times). */
    private void finish(FileSystem fs, Entry pending) throws IOException {
        Path logDir = new Path(new Path(pending.tablePath), "_delta_log");
        Path target = new Path(logDir, pending.fileName);
        for (int attempt = 1; ; attempt++) {
            try {
                if (!fs.exists(target)) {
                    try {
                        copy(fs, new Path(logDir, pending.tempPath), target);
                    } catch (FileAlreadyExistsException raced) {
                        // another process finished it first: same bytes
                    }
                }
                put(pending.completed(ttlSeconds), true);
                LOG.info("recovered commit {} of {}", pending.fileName, pending.tablePath);
                return;
            } catch (IOException | RuntimeException e) {
                if (attempt >= FIX_ATTEMPTS) {
                    throw e;
                }
                LOG.info("recovery of {} failed ({}), retrying", pending.fileName, e.toString());
            }
        }
    }

    private static void writeLines(FileSystem fs, Path path, Iterator<String> lines)
            throws IOException {
        try (OutputStream out = fs.create(path, true)) {
            while (lines.hasNext()) {
                out.write((lines.next() + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static void copy(FileSystem fs, Path src, Path dst) throws IOException {
        try (InputStream in = fs.open(src)) {
            OutputStream out;
            try {
                out = fs.create(dst, false);
            } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
                throw new FileAlreadyExistsException(dst.toString());
            }
            in.transferTo(out);
            out.close(); // not in a finally: a failed copy must not leave a partial N.json
        }
    }

    private static Path qualified(FileSystem fs, Path path) throws IOException {
        URI uri = fs.makeQualified(path).toUri();
        try {
            return new Path(new URI(uri.getScheme(), null, uri.getHost(), uri.getPort(),
                uri.getPath(), uri.getQuery(), uri.getFragment()));
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }

    /** {@code <table>/_delta_log/N.json} -> {@code <table>}. */
    private static Path tableOf(Path logFile) {
        return logFile.getParent().getParent();
    }

    // ---------------------------------------------------------------- DynamoDB

    private void put(Entry e, boolean overwrite) throws IOException {
        Map<String, AttributeValue> item = new HashMap<>();
        item.put(TABLE_PATH, AttributeValue.fromS(e.tablePath));
        item.put(FILE_NAME, AttributeValue.fromS(e.fileName));
        item.put(TEMP_PATH, AttributeValue.fromS(e.tempPath));
        item.put(COMPLETE, AttributeValue.fromS(Boolean.toString(e.complete)));
        if (e.expireTime != null) {
            item.put(EXPIRE_TIME, AttributeValue.fromN(e.expireTime.toString()));
        }
        PutItemRequest.Builder request = PutItemRequest.builder().tableName(tableName).item(item);
        if (!overwrite) {
            request = request.conditionExpression("attribute_not_exists(" + FILE_NAME + ")");
        }
        try {
            client.putItem(request.build());
        } catch (ConditionalCheckFailedException lost) {
            throw new FileAlreadyExistsException(e.tablePath + "/_delta_log/" + e.fileName);
        }
    }

    private Optional<Entry> entry(Path tablePath, String fileName) {
        Map<String, AttributeValue> key = new HashMap<>();
        key.put(TABLE_PATH, AttributeValue.fromS(tablePath.toString()));
        key.put(FILE_NAME, AttributeValue.fromS(fileName));
        Map<String, AttributeValue> item = client.getItem(
            b -> b.tableName(tableName).key(key).consistentRead(true)).item();
        return item == null || item.isEmpty() ? Optional.empty() : Optional.of(Entry.of(item));
    }

    private Optional<Entry> latestEntry(Path tablePath) {
        List<Map<String, AttributeValue>> items = client.query(b -> b
            .tableName(tableName)
            .consistentRead(true)
            .scanIndexForward(false)
            .limit(1)
            .keyConditionExpression(TABLE_PATH + " = :t")
            .expressionAttributeValues(Map.of(":t", AttributeValue.fromS(tablePath.toString())))
        ).items();
        return items.isEmpty() ? Optional.empty() : Optional.of(Entry.of(items.get(0)));
    }

    private void ensureTable(boolean create) throws IOException {
        for (int attempt = 0; attempt < 60; attempt++) {
            try {
                TableStatus status = client.describeTable(b -> b.tableName(tableName)).table()
                    .tableStatus();
                if (status == TableStatus.ACTIVE) {
                    return;
                }
            } catch (ResourceNotFoundException missing) {
                if (!create) {
                    throw new IOException("DynamoDB table " + tableName + " does not exist; create"
                        + " it (docs/deploy.md) or set ddb.createTable=true");
                }
                try {
                    client.createTable(b -> b
                        .tableName(tableName)
                        .billingMode(BillingMode.PAY_PER_REQUEST)
                        .attributeDefinitions(
                            AttributeDefinition.builder().attributeName(TABLE_PATH)
                                .attributeType(ScalarAttributeType.S).build(),
                            AttributeDefinition.builder().attributeName(FILE_NAME)
                                .attributeType(ScalarAttributeType.S).build())
                        .keySchema(
                            KeySchemaElement.builder().attributeName(TABLE_PATH)
                                .keyType(KeyType.HASH).build(),
                            KeySchemaElement.builder().attributeName(FILE_NAME)
                                .keyType(KeyType.RANGE).build()));
                    LOG.info("created DynamoDB table {}", tableName);
                } catch (ResourceInUseException raced) {
                    // created by a concurrent writer
                }
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("waiting for table " + tableName);
            }
        }
        throw new IOException("DynamoDB table " + tableName + " did not become ACTIVE");
    }

    private static DynamoDbClient newClient(String region, String endpoint, String provider) {
        DynamoDbClientBuilder builder = DynamoDbClient.builder()
            .region(Region.of(region))
            .credentialsProvider(credentials(provider));
        if (!endpoint.isEmpty()) {
            builder = builder.endpointOverride(URI.create(endpoint));
        }
        return builder.build();
    }

    /** The default provider chain, or a named provider class with a static create(). */
    private static AwsCredentialsProvider credentials(String className) {
        if (className.isEmpty()) {
            return DefaultCredentialsProvider.create();
        }
        try {
            return (AwsCredentialsProvider) Class.forName(className).getMethod("create").invoke(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("cannot create credentials provider " + className, e);
        }
    }

    static String param(Configuration conf, String name, String fallback) {
        String spark = conf.get(SPARK_PREFIX + name);
        String base = conf.get(BASE_PREFIX + name);
        if (spark != null && base != null && !spark.equals(base)) {
            throw new IllegalArgumentException(
                SPARK_PREFIX + name + " and " + BASE_PREFIX + name + " differ: set only one");
        }
        return spark != null ? spark : base != null ? base : fallback;
    }

    // ---------------------------------------------------------------- value types

    /** One commit's DynamoDB entry. */
    static final class Entry {
        final String tablePath;
        final String fileName;
        final String tempPath;
        final boolean complete;
        final Long expireTime;

        Entry(String tablePath, String fileName, String tempPath, boolean complete,
              Long expireTime) {
            this.tablePath = tablePath;
            this.fileName = fileName;
            this.tempPath = tempPath;
            this.complete = complete;
            this.expireTime = expireTime;
        }

        Entry completed(long ttlSeconds) {
            return new Entry(tablePath, fileName, tempPath, true,
                Instant.now().getEpochSecond() + ttlSeconds);
        }

        static Entry of(Map<String, AttributeValue> item) {
            AttributeValue expire = item.get(EXPIRE_TIME);
            return new Entry(item.get(TABLE_PATH).s(), item.get(FILE_NAME).s(),
                item.get(TEMP_PATH).s(), Boolean.parseBoolean(item.get(COMPLETE).s()),
                expire == null ? null : Long.valueOf(expire.n()));
        }
    }

    private static final class ListIterator implements CloseableIterator<String> {
        private final Iterator<String> lines;

        ListIterator(List<String> lines) {
            this.lines = lines.iterator();
        }

        @Override
        public boolean hasNext() {
            return lines.hasNext();
        }

        @Override
        public String next() {
            return lines.next();
        }

        @Override
        public void close() {
        }
    }
}
