// DuckDB baseline of bench/twcs_bench.sh: loads a twcs CSV file into an in-memory
// table (read_csv), then computes each inbound tweet's first brand reply, as the sqlite3
// baseline does. Prints "answered=N mean_wait_s=X load_s=S query_s=S" on standard output (the
// times exclude starting node and loading the library).
// Usage: node first_reply.mjs FILE [THREADS]
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads] = process.argv.slice(2);
if (!file) {
  console.error('usage: node first_reply.mjs FILE [THREADS]');
  process.exit(2);
}
const started = performance.now();
const options = threads ? { threads: String(threads) } : {};
const instance = await DuckDBInstance.create(':memory:', options);
const connection = await instance.connect();
const quoted = `'${file.replaceAll("'", "''")}'`;

// Every column read as text, as sqlite3's .import does; the ids and dates are converted
// by the query. The first, unnamed column is pandas' index.
await connection.run(`
  CREATE TABLE twcs AS SELECT * FROM read_csv(${quoted}, header = true, delim = ',', quote = '"',
    escape = '"', new_line = '\\n', auto_detect = false,
    columns = {'idx': 'VARCHAR', 'tweet_id': 'VARCHAR', 'author_id': 'VARCHAR', 'inbound': 'VARCHAR',
               'created_at': 'VARCHAR', 'text': 'VARCHAR', 'response_tweet_id': 'VARCHAR',
               'in_response_to_tweet_id': 'VARCHAR'})`);

const loaded = performance.now();
const epoch = (column) => `epoch(strptime(${column}, '%a %b %d %H:%M:%S %z %Y'))`;
const reader = await connection.runAndReadAll(`
  WITH q AS (SELECT CAST(tweet_id AS BIGINT) AS id, ${epoch('created_at')} AS t
             FROM twcs WHERE inbound = 'True'),
       r AS (SELECT CAST(CAST(in_response_to_tweet_id AS DOUBLE) AS BIGINT) AS parent,
                    min(${epoch('created_at')}) AS t
             FROM twcs WHERE inbound = 'False' AND coalesce(in_response_to_tweet_id, '') <> ''
             GROUP BY 1)
  SELECT count(*), round(avg(r.t - q.t), 1) FROM q JOIN r ON r.parent = q.id`);
const [[answered, mean]] = reader.getRows();
const done = performance.now();
console.log(`answered=${answered} mean_wait_s=${Number(mean).toFixed(1)} ` +
  `load_s=${((loaded - started) / 1000).toFixed(3)} query_s=${((done - loaded) / 1000).toFixed(3)}`);
