<?php
/**
 * Regenerates the PHP json_encode test vectors. From the repository root:
 *
 *     php scripts/php-json-vectors.php
 *
 * (needs only php-cli, e.g. `apt-get install -y php-cli`; no npm, no Composer).
 *
 * Reads  test/fixtures/json-vectors.input.json: [{"name": ..., "value": <any JSON>}, ...]
 * Writes test/fixtures/json-vectors.php.json:   [{"name": ..., "php": <json_encode(value)>}, ...]
 *
 * Each value is decoded with json_decode($text, false), so JSON objects stay
 * objects (`{}` stays `{}`) exactly as JSON.parse keeps them in JavaScript, and
 * then encoded with json_encode and NO flags: that output is what the
 * TypeScript encoder's 'php' mode must reproduce byte for byte
 * (test/unit/upstream/json-encoding.test.ts).
 *
 * Keep the inputs to values both languages decode alike: safe integers only
 * (|n| < 2^53), no floats, no lone surrogates, and integer-like object keys
 * only in ascending order before the other keys (JavaScript reorders them).
 */

declare(strict_types=1);

$root = dirname(__DIR__);
$inputPath = $argv[1] ?? $root . '/test/fixtures/json-vectors.input.json';
$outputPath = $argv[2] ?? $root . '/test/fixtures/json-vectors.php.json';

$text = file_get_contents($inputPath);
if ($text === false) {
    fwrite(STDERR, "cannot read $inputPath\n");
    exit(1);
}

try {
    $cases = json_decode($text, false, 512, JSON_THROW_ON_ERROR);
} catch (JsonException $e) {
    fwrite(STDERR, "$inputPath is not valid JSON: {$e->getMessage()}\n");
    exit(1);
}
if (!is_array($cases)) {
    fwrite(STDERR, "$inputPath must hold a JSON array of {name, value}\n");
    exit(1);
}

$vectors = [];
$names = [];
foreach ($cases as $i => $case) {
    if (!is_object($case) || !is_string($case->name ?? null) || !property_exists($case, 'value')) {
        fwrite(STDERR, "case #$i must be an object with a string name and a value\n");
        exit(1);
    }
    if (isset($names[$case->name])) {
        fwrite(STDERR, "duplicate case name: {$case->name}\n");
        exit(1);
    }
    $names[$case->name] = true;
    // The point of the file: json_encode exactly as the upstream's PHP would call it, no flags.
    $php = json_encode($case->value);
    if ($php === false) {
        fwrite(STDERR, "case {$case->name}: json_encode failed: " . json_last_error_msg() . "\n");
        exit(1);
    }
    $vectors[] = ['name' => $case->name, 'php' => $php];
}

// The output file itself is only read by the tests; these flags just keep it readable.
$out = json_encode($vectors, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR) . "\n";
// json_encode leaves DEL (0x7f) raw; spell it as an escape so editors cannot lose it.
// Only strings can hold it, so the file still decodes to the same values.
$out = str_replace("\x7f", '\u007f', $out);
if (file_put_contents($outputPath, $out) === false) {
    fwrite(STDERR, "cannot write $outputPath\n");
    exit(1);
}
fwrite(STDOUT, sprintf("wrote %d vectors to %s (PHP %s)\n", count($vectors), $outputPath, PHP_VERSION));
