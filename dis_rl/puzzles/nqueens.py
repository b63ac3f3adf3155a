"""8x8 N-Queens completion: generator, dihedral augmentation, verifier and rendering.

Tokens: 0 pad (unused on the full board), 1 empty, 2 queen; sequence length 64, row-major.
A puzzle gives ``Q`` queens (1..7) of some full solution; the answer is any placement of
8 mutually non-attacking queens that keeps every given queen. Boards often have several
completions, so scoring uses the verifier, not only the stored label.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dis_rl.puzzles.base import PuzzleSet
from dis_rl.puzzles.render import colours_to_rgb

SIZE = 8
EMPTY, QUEEN = 1, 2
VOCAB_SIZE = 3
SEQ_LEN = SIZE * SIZE


@lru_cache(maxsize=1)
def all_solutions() -> np.ndarray:
    """The 92 solutions of 8-queens as token boards ``[92, 64]`` (lexicographic order)."""
    found: list[list[int]] = []

    def place(row: int, cols: list[int]) -> None:
        if row == SIZE:
            found.append(list(cols))
            return
        for c in range(SIZE):
            if all(c != pc and abs(c - pc) != row - pr for pr, pc in enumerate(cols)):
                cols.append(c)
                place(row + 1, cols)
                cols.pop()

    place(0, [])
    boards = np.full((len(found), SEQ_LEN), EMPTY, dtype=np.uint8)
    for i, cols in enumerate(found):
        boards[i, np.arange(SIZE) * SIZE + np.asarray(cols)] = QUEEN
    boards.setflags(write=False)
    return boards


NO_CANDIDATE = np.uint64(2**64 - 1)  # no solution keeps the givens (not a queen mask: 64 queens)


def _pack(cells: np.ndarray) -> np.ndarray:
    """Boolean boards ``[N, 64]`` as ``[N]`` uint64 bit masks (bit i = cell i)."""
    # One flat pack (each row is exactly 8 bytes of bits) is ~2x faster than packing along axis 1.
    return np.packbits(np.ascontiguousarray(cells).reshape(-1), bitorder="little").view("<u8")


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(bits: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 (numpy >= 2 has it built in)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(bits)
    as_bytes = np.ascontiguousarray(bits).view(np.uint8).reshape(*bits.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1)


@lru_cache(maxsize=1)
def _solution_bits() -> tuple[np.ndarray, np.ndarray]:
    bits = _pack(all_solutions() == QUEEN)
    others = ~bits
    bits.setflags(write=False)
    others.setflags(write=False)
    return bits, others


def _keeps(inputs: np.ndarray) -> np.ndarray:
    """``[N, 92]`` bool: which solutions keep each board's given queens."""
    _, others = _solution_bits()
    return (_pack(np.atleast_2d(inputs) == QUEEN)[:, None] & others) == 0


def consistent_counts(inputs: np.ndarray) -> np.ndarray:
    """``[N]``: how many of the 92 solutions keep each board's given queens (its completions)."""
    return _keeps(inputs).sum(axis=1).astype(np.int64)


def dihedral(boards: np.ndarray, k: int) -> np.ndarray:
    """Apply dihedral transform ``k`` (0..7: rotations by k*90 degrees, then a transpose for k>=4)."""
    grid = boards.reshape(-1, SIZE, SIZE)
    grid = np.rot90(grid, k % 4, axes=(1, 2))
    if k >= 4:
        grid = grid.transpose(0, 2, 1)
    return np.ascontiguousarray(grid).reshape(boards.shape)


def _canonical_keys(inputs: np.ndarray) -> set[bytes]:
    """Bytes of every dihedral image of every board: two puzzles 'meet' if any keys coincide."""
    return {dihedral(inputs, k)[i].tobytes() for k in range(8) for i in range(len(inputs))}


def _sample_puzzles(rng: np.random.Generator, count: int, min_queens: int, max_queens: int):
    solutions = all_solutions()
    labels = solutions[rng.integers(0, len(solutions), size=count)].copy()
    inputs = np.full_like(labels, EMPTY)
    for i in range(count):
        q = int(rng.integers(min_queens, max_queens + 1))
        queens = np.flatnonzero(labels[i] == QUEEN)
        inputs[i, rng.choice(queens, size=q, replace=False)] = QUEEN
    return inputs, labels


def generate(
    num_train: int = 800,
    num_test: int = 200,
    seed: int = 0,
    min_queens: int = 1,
    max_queens: int = 7,
    augment: bool = True,
) -> tuple[PuzzleSet, PuzzleSet]:
    """Train and test sets. Test inputs are distinct and none of their dihedral images occurs
    in training. Training holds ``num_train`` base puzzles, each with its dihedral images
    (de-duplicated) when ``augment``; a test board never matches a training board under any transform."""
    if not 1 <= min_queens <= max_queens <= SIZE - 1:
        raise ValueError(f"need 1 <= min_queens <= max_queens <= 7, got {min_queens}..{max_queens}")
    rng = np.random.default_rng(seed)

    test_in: list[np.ndarray] = []
    test_lab: list[np.ndarray] = []
    seen: set[bytes] = set()
    while len(test_in) < num_test:
        x, y = _sample_puzzles(rng, 1, min_queens, max_queens)
        keys = _canonical_keys(x)
        if keys & seen:
            continue
        seen |= keys
        test_in.append(x[0])
        test_lab.append(y[0])

    train_in: list[np.ndarray] = []
    train_lab: list[np.ndarray] = []
    train_seen: set[bytes] = set()
    attempts = 0
    while len(train_in) < num_train:
        attempts += 1
        if attempts > 100 * num_train + 10_000:
            raise RuntimeError("could not draw enough distinct N-Queens training puzzles")
        x, y = _sample_puzzles(rng, 1, min_queens, max_queens)
        keys = _canonical_keys(x)
        if keys & seen:  # would leak a test board (under some symmetry) into training
            continue
        if x[0].tobytes() in train_seen:
            continue
        train_seen.add(x[0].tobytes())
        train_in.append(x[0])
        train_lab.append(y[0])

    tr_x, tr_y = np.stack(train_in), np.stack(train_lab)
    if augment:
        xs, ys, seen_pairs = [], [], set()
        for k in range(8):
            ax, ay = dihedral(tr_x, k), dihedral(tr_y, k)
            for i in range(len(ax)):
                key = ax[i].tobytes() + ay[i].tobytes()
                if key not in seen_pairs:
                    seen_pairs.add(key)
                    xs.append(ax[i])
                    ys.append(ay[i])
        tr_x, tr_y = np.stack(xs), np.stack(ys)

    def make(x: np.ndarray, y: np.ndarray, name: str) -> PuzzleSet:
        return PuzzleSet(
            domain="nqueens",
            inputs=x.astype(np.uint8),
            labels=y.astype(np.uint8),
            puzzle_ids=np.zeros(len(x), dtype=np.int64),
            vocab_size=VOCAB_SIZE,
            grid_shape=(SIZE, SIZE),
            num_puzzle_ids=1,
            name=name,
        )

    return make(tr_x, tr_y, "nqueens-train"), make(np.stack(test_in), np.stack(test_lab), "nqueens-test")


def commit_order(inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[N, 64]`` int16: in which round a constraint-propagation solver commits each queen of the
    stored label that is not given (-1 for every other cell). A round commits every *forced* queen
    at once (the only cell left in a free row or a free column that no queen attacks); when none is
    forced, the solver branches on the free row with the fewest open cells (lowest row on ties) and
    commits the label's queen there, a round of its own. Forced cells hold a queen in every
    completion, so they are the label's; a board whose givens leave a free row or column without
    an open cell, or are not the label's queens, raises ValueError."""
    inputs, labels = np.atleast_2d(inputs), np.atleast_2d(labels)
    out = np.full(inputs.shape, -1, dtype=np.int16)
    rows, cols = np.divmod(np.arange(SEQ_LEN), SIZE)
    for b in range(len(inputs)):
        target = labels[b].reshape(SIZE, SIZE) == QUEEN
        queens = inputs[b].reshape(SIZE, SIZE) == QUEEN
        if (queens & ~target).any() or not (target.sum(axis=1) == 1).all():
            raise ValueError(f"board {b}: the given queens are not queens of its label, or the label is not a solution")
        wave = 0
        while not (queens == target).all():
            qr, qc = np.nonzero(queens)
            attacked = (np.isin(rows, qr) | np.isin(cols, qc) | np.isin(rows - cols, qr - qc)
                        | np.isin(rows + cols, qr + qc)).reshape(SIZE, SIZE)
            open_ = ~attacked
            free_rows, free_cols = ~queens.any(axis=1), ~queens.any(axis=0)
            row_open, col_open = open_.sum(axis=1), open_.sum(axis=0)
            if (row_open[free_rows] == 0).any() or (col_open[free_cols] == 0).any():
                raise ValueError(f"board {b}: a free row or column has no open cell left")
            forced = open_ & (((row_open == 1) & free_rows)[:, None] | ((col_open == 1) & free_cols)[None, :])
            if not forced.any():  # branch: the label's queen in the most constrained free row
                r = int(np.flatnonzero(free_rows)[np.argmin(row_open[free_rows])])
                forced = np.zeros_like(queens)
                forced[r] = target[r]
            if (forced & ~target).any():
                raise ValueError(f"board {b}: a forced queen is not the label's (the label breaks the givens)")
            out[b][forced.reshape(-1)] = wave
            queens = queens | forced
            wave += 1
    return out


class NQueensDomain:
    """Domain knowledge for 8x8 N-Queens completion (see module docstring)."""

    name = "nqueens"
    vocab_size = VOCAB_SIZE
    grid_shape = (SIZE, SIZE)
    cheap_answers = True  # `answers` is a bit-mask lookup (microseconds): envs list every completion up front

    def verify(self, inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        inputs, preds = np.atleast_2d(inputs), np.atleast_2d(preds)
        queens = preds.reshape(-1, SIZE, SIZE) == QUEEN
        only_valid_tokens = np.isin(preds, (EMPTY, QUEEN)).all(axis=1)
        rows_ok = (queens.sum(axis=2) == 1).all(axis=1)
        cols_ok = (queens.sum(axis=1) == 1).all(axis=1)
        # Diagonals: flip for anti-diagonals; trace offsets -7..7 each hold at most one queen.
        diag = np.stack([np.trace(queens, offset=o, axis1=1, axis2=2) for o in range(-7, 8)], axis=1)
        anti = np.stack([np.trace(queens[:, :, ::-1], offset=o, axis1=1, axis2=2) for o in range(-7, 8)], axis=1)
        diags_ok = (diag <= 1).all(axis=1) & (anti <= 1).all(axis=1)
        givens_kept = ((inputs != QUEEN) | (preds == QUEEN)).all(axis=1)
        return only_valid_tokens & rows_ok & cols_ok & diags_ok & givens_kept

    def distance(self, inputs: np.ndarray, answers: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Hamming distance to the nearest of the 92 solutions that keeps the givens.

        Boards are packed into 64-bit masks (one bit per cell), so a batch of 1024 boards against
        all 92 solutions costs a few hundred microseconds: the vector-native env calls this every step.
        """
        inputs, answers = np.atleast_2d(inputs), np.atleast_2d(answers)
        sols, _ = _solution_bits()  # [92] queen bits of each solution
        invalid = (answers != EMPTY) & (answers != QUEEN)  # such a cell differs from every solution
        # A cell differs from a solution if its queen bit differs or it is not a valid token.
        differ = (_pack(answers == QUEEN)[:, None] ^ sols) | _pack(invalid)[:, None]  # [N, 92]
        dist = _popcount(differ)  # uint8, at most 64
        dist[~_keeps(inputs)] = SEQ_LEN + 1  # a solution that drops a given queen is no answer
        return dist.min(axis=1).astype(np.int64)

    def solution_candidates(self, inputs: np.ndarray, width: int | None = None) -> np.ndarray:
        """``[N, K]`` uint64 queen masks of the solutions that keep each puzzle's givens, padded by
        repeating the first (K = the most any puzzle has, or `width`). A puzzle with none gets
        `NO_CANDIDATE`. Computed once per puzzle, they make `distance_to_candidates` a popcount
        over a handful of boards instead of all 92 (the envs' per-step cost)."""
        inputs = np.atleast_2d(inputs)
        sols, _ = _solution_bits()
        keeps = _keeps(inputs)  # [N, 92]
        counts = keeps.sum(axis=1)
        k = max(int(counts.max(initial=1)), 1) if width is None else width
        if counts.max(initial=0) > k:
            raise ValueError(f"width {k} is below the {counts.max()} candidate solutions of some puzzle")
        # Stable order: consistent solutions first, then pad with the first one.
        order = np.argsort(~keeps, axis=1, kind="stable")[:, :k]
        cand = sols[order]
        slot = np.arange(k)[None]
        cand = np.where(slot < counts[:, None], cand, cand[:, :1])
        return np.where(counts[:, None] > 0, cand, NO_CANDIDATE).astype(np.uint64)

    def answers(self, inputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every completion of each board's given queens: ``[N, K, 64]`` token boards in the
        lexicographic order of the 92 solutions (padded by repeating the first) and ``[N]`` how many
        (`dis_rl.puzzles.answers`). A board none completes keeps its stored label as its one answer."""
        inputs, labels = np.atleast_2d(inputs), np.atleast_2d(labels)
        candidates = self.solution_candidates(inputs)
        boards = self.candidate_boards(candidates)
        counts = consistent_counts(inputs)
        none = counts == 0
        boards[none] = np.asarray(labels, dtype=np.uint8)[none, None]
        return boards, np.maximum(counts, 1)

    def candidate_boards(self, candidates: np.ndarray, missing: int = 255) -> np.ndarray:
        """``[N, K, 64]`` uint8 token boards of `solution_candidates` (a puzzle without any: all
        ``missing``, a token no answer holds), for distances as counts of differing cells."""
        queens = np.unpackbits(candidates.view(np.uint8), bitorder="little").reshape(*candidates.shape, SEQ_LEN)
        boards = np.where(queens.astype(bool), QUEEN, EMPTY).astype(np.uint8)
        boards[candidates[:, 0] == NO_CANDIDATE] = missing
        return boards

    def distance_to_candidates(self, answers: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """`distance` given the puzzles' `solution_candidates` (identical result)."""
        return self.distance_to_columns(answers, np.ascontiguousarray(np.atleast_2d(candidates).T))

    def distance_to_columns(self, answers: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """`distance_to_candidates` with the candidates as ``[K, N]`` columns (candidate k of every
        puzzle in one row): the K popcounts of a puzzle then reduce along the first axis, one
        vectorised minimum instead of K strided column passes (the vector env keeps them so)."""
        answers = np.atleast_2d(answers)
        queens = _pack(answers == QUEEN)
        invalid = ~(queens | _pack(answers == EMPTY))  # bit set: neither empty nor queen
        differ = queens ^ columns  # [K, N]
        differ |= invalid
        dist = np.minimum.reduce(_popcount(differ), axis=0).astype(np.int64)
        dist[columns[0] == NO_CANDIDATE] = SEQ_LEN + 1
        return dist

    def scored_cells(self, labels: np.ndarray) -> np.ndarray:
        return np.full(len(np.atleast_2d(labels)), SEQ_LEN, dtype=np.int64)

    def render_text(self, tokens: np.ndarray, givens: np.ndarray | None = None) -> str:
        """Board as text: ``Q`` queen (``q`` when it was given), ``.`` empty, ``?`` anything else."""
        tokens = np.asarray(tokens).reshape(SIZE, SIZE)
        given = None if givens is None else np.asarray(givens).reshape(SIZE, SIZE) == QUEEN
        lines = []
        for r in range(SIZE):
            cells = []
            for c in range(SIZE):
                t = tokens[r, c]
                ch = "Q" if t == QUEEN else "." if t == EMPTY else "?"
                if ch == "Q" and given is not None and given[r, c]:
                    ch = "q"
                cells.append(ch)
            lines.append(" ".join(cells))
        return "\n".join(lines)

    def render_rgb(self, tokens: np.ndarray, cell: int = 16) -> np.ndarray:
        tokens = np.asarray(tokens).reshape(SIZE, SIZE)
        # Chequered board in two greys, queens yellow (ARC colour 4), other tokens red.
        colours = np.where((np.add.outer(np.arange(SIZE), np.arange(SIZE)) % 2) == 0, 5, 0)
        colours = np.where(tokens == QUEEN, 4, colours)
        colours = np.where(np.isin(tokens, (EMPTY, QUEEN)), colours, 2)
        return colours_to_rgb(colours, cell=cell)


DOMAIN = NQueensDomain()
