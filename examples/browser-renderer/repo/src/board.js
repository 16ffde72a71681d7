// The game's model: a square board of numbered tiles and one gap. Pure
// functions over plain objects, shared by the server and the browser.

export const DEFAULT_SIZE = 4;

// A solved board of `size` x `size`: tiles 1..n-1 in order, the gap last.
export function solvedBoard(size = DEFAULT_SIZE) {
  const tiles = [];
  for (let i = 1; i < size * size; i++) tiles.push(i);
  tiles.push(0);
  return { size, tiles, moves: 0 };
}

// Row and column of the tile at `index`.
export function position(board, index) {
  return { row: Math.floor(index / board.size), col: index % board.size };
}

// The index of the gap (tile 0).
export function gapIndex(board) {
  return board.tiles.indexOf(0);
}

// Whether the tile at `index` touches the gap horizontally or vertically.
export function canMove(board, index) {
  const a = position(board, index);
  const b = position(board, gapIndex(board));
  return Math.abs(a.row - b.row) + Math.abs(a.col - b.col) === 1;
}

// A new board with the tile at `index` slid into the gap; the same board
// when the move is not allowed.
export function move(board, index) {
  if (!canMove(board, index)) return board;
  const tiles = board.tiles.slice();
  const gap = gapIndex(board);
  [tiles[gap], tiles[index]] = [tiles[index], tiles[gap]];
  return { size: board.size, tiles, moves: board.moves + 1 };
}

// Slides the tile next to the gap in `direction` ("up", "down", "left",
// "right" as seen by the player: the tile moves that way).
export function moveDirection(board, direction) {
  const gap = position(board, gapIndex(board));
  const delta = { up: [1, 0], down: [-1, 0], left: [0, 1], right: [0, -1] }[direction];
  if (!delta) return board;
  const row = gap.row + delta[0];
  const col = gap.col + delta[1];
  if (row < 0 || col < 0 || row >= board.size || col >= board.size) return board;
  return move(board, row * board.size + col);
}

// Whether every tile is in its place.
export function isSolved(board) {
  return board.tiles.every((t, i) => (i === board.tiles.length - 1 ? t === 0 : t === i + 1));
}

// A solvable shuffle: `steps` random legal moves from the solved board.
export function shuffled(size = DEFAULT_SIZE, steps = 200, random = Math.random) {
  let board = solvedBoard(size);
  const dirs = ["up", "down", "left", "right"];
  for (let i = 0; i < steps; i++) {
    board = moveDirection(board, dirs[Math.floor(random() * dirs.length)]);
  }
  return { ...board, moves: 0 };
}
