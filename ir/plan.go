package ir

import "fmt"

// Group is a set of values that a backend computes in one loop nest (CPU)
// or one kernel (CUDA), as chosen by the fuse pass. Values are in graph
// order, except that a contraction's anchor comes first; values of the
// group used only inside it need no buffer.
type Group struct {
	Kind   FusionKind // the kind of its anchor: elementwise, reduction (a sink last), contraction (the anchor first)
	Values []*Value
	// Lanes, when set, splits Values into structurally identical chains,
	// one per param in param order (the optimizer update): a backend runs
	// them as one flat loop over the params block.
	Lanes [][]*Value
}

// Storage says where a value's elements live in a generated model.
type Storage uint8

const (
	StoreNone     Storage = iota // not planned
	StoreArena                   // a slot of the float32 arena (f32 and bool values)
	StoreIArena                  // a slot of the int32 arena
	StoreParams                  // a param: its slot of the params block
	StoreGrads                   // a gradient computed in its param's slot of the grads block (same layout as params)
	StoreState                   // optimizer state: its slot of the state block
	StoreInput                   // an input or target: the caller's slice
	StoreInline                  // a scalar written into expressions (Inline ops)
	StoreAlias                   // the storage of Slot.Of: a view's argument, or the output a contraction writes
	StoreRegister                // a member of a unit used only inside it: a local of the unit's loop
	StoreTarget                  // an update the flat optimizer loop writes straight into its target
)

var storageNames = [...]string{"none", "arena", "iarena", "params", "grads", "state", "input", "inline", "alias", "register", "target"}

func (s Storage) String() string {
	if int(s) < len(storageNames) {
		return storageNames[s]
	}
	return fmt.Sprintf("storage(%d)", int(s))
}

// InBlock reports whether values of this storage occupy a range of one of
// the model's blocks (arena, iarena, params, grads, state).
func (s Storage) InBlock() bool { return s >= StoreArena && s <= StoreState }

// Slot is where the memory planner put a value.
type Slot struct {
	Storage Storage
	Offset  int    // elements into its block (InBlock storages)
	Size    int    // elements at the plan's MaxBatch (InBlock storages and inputs)
	Of      *Value // StoreAlias: the value whose storage this one shares (never itself an alias)
}

// Phase is the part of a training step a unit belongs to.
type Phase uint8

const (
	PhaseForward  Phase = iota // what outputs, the loss and metrics need
	PhaseBackward              // the rest of what the gradients need
	PhaseUpdate                // the optimizer update
)

var phaseNames = [...]string{"forward", "backward", "update"}

func (p Phase) String() string { return phaseNames[p] }

// Entry is an entry point of a generated model.
type Entry uint8

const (
	EntryForward Entry = iota // the outputs (Forward)
	EntryEval                 // the loss and the metrics (Eval)
	EntryStep                 // one training step: loss, gradients, updates (TrainStep)
	NumEntries
)

var entryNames = [...]string{"forward", "eval", "step"}

func (e Entry) String() string { return entryNames[e] }

// UnitKind is how a backend computes a unit.
type UnitKind uint8

const (
	UnitOp       UnitKind = iota // one value, by its op's kernel
	UnitLoop                     // elementwise values of one shape: one loop over it
	UnitReduce                   // elementwise values closed by a reduction sink (the last value), which the loop accumulates into
	UnitContract                 // a contraction (the first value) writing the stored output of its elementwise epilogue, which then runs over it in place
	UnitUpdate                   // the optimizer update of every param: one loop over the params block (Flat)
)

var unitKindNames = [...]string{"op", "loop", "reduce", "contract", "update"}

func (k UnitKind) String() string { return unitKindNames[k] }

// Unit is what a backend emits as one piece: one loop nest or call on the
// CPU, one kernel (after its GEMM, for a contraction) on a GPU.
type Unit struct {
	Kind    UnitKind
	Values  []*Value // in emission order (UnitUpdate: every lane's values)
	Phase   Phase    // the latest phase of its values
	Entries uint8    // bit 1<<e for each entry point e that runs it
	Flat    *FlatUpdate
}

// Runs reports whether entry point e runs the unit.
func (u *Unit) Runs(e Entry) bool { return u.Entries&(1<<e) != 0 }

// Last is the unit's last value (a reduction's sink).
func (u *Unit) Last() *Value { return u.Values[len(u.Values)-1] }

// FlatUpdate is the optimizer update of every param as one loop over the
// params block: element i of the loop runs the first param's chain with
// the param, its gradient and each kind of its state read at element i of
// their blocks (the grads block has the params block's layout, and each
// kind of state is one run with it) and writes its updates in place.
type FlatUpdate struct {
	Chain       []*Value          // the first lane's values: the loop body
	Param, Grad *Value            // the first lane's param and gradient
	State       map[*Value]int    // the first lane's state -> base: element i of the params block pairs with element base+i of the state block
	Targets     map[*Value]*Value // a chain value -> the param or state it updates
	Lanes       [][]*Value        // every param's chain, in param order
	Runs        []StateRun        // the first lane's state, in the order the chain first uses it
}

// StateRun is one kind of optimizer state ("m", "v") of every param: a run
// of the state block with the params block's layout, starting at Base.
type StateRun struct {
	State *Value // the first lane's state of this kind
	Kind  string // its name after the param's ("m")
	Base  int
}

// EntryPlan is what one entry point runs.
type EntryPlan struct {
	Units  []*Unit  // in order
	Inputs []*Value // the inputs and targets it reads, in declaration order
}

// GradCopy is a gradient not computed in its param's slot of the grads
// block: the step copies Value there after the unit After (nil: before the
// first unit) has computed it.
type GradCopy struct {
	Param, Value *Value
	After        *Unit
}

// Plan is the storage decision of the memory planner (passes/memplan.go),
// made once for every backend: where every value lives, the units backends
// emit and which entry point runs which, the phase of each unit, the
// gradients that are copied into the grads block and the updates applied
// by copy at the end of a step. The text form (text.go) carries the batch
// size, the block sizes, the slots and the scratch slots; the rest is
// derived by the planner.
type Plan struct {
	MaxBatch int             // the batch size the sizes are computed for
	Slots    map[*Value]Slot // every value of the graph
	Scratch  map[*Value]Slot // the workspace of a value whose op has Scratch (in the arena)
	Arena    int             // elements of the float32 arena
	IArena   int             // elements of the int32 arena
	Params   int             // elements of the params block (and of the grads block)
	State    int             // elements of the state block

	Units    []*Unit                // in step order
	UnitOf   map[*Value]*Unit       // the unit computing a value (none for sources and views)
	Entries  [NumEntries]*EntryPlan // nil for an entry the model lacks (no loss: only forward; no optimizer: no step)
	GradCopy []GradCopy             // in grad result order
	Apply    []Update               // updates not written in place, applied by copy at the end of the step
	GradSlot map[*Value]Slot        // each param -> its slot of the grads block
}

// Root follows an alias to the value whose storage v uses.
func (pl *Plan) Root(v *Value) *Value {
	for {
		s := pl.Slots[v]
		if s.Storage != StoreAlias || s.Of == nil {
			return v
		}
		v = s.Of
	}
}

// Storage is the storage of v's elements (through aliases).
func (pl *Plan) Storage(v *Value) Storage { return pl.Slots[pl.Root(v)].Storage }

// Stored reports whether v's unit writes it to memory.
func (pl *Plan) Stored(v *Value) bool {
	switch pl.Slots[v].Storage {
	case StoreRegister, StoreTarget, StoreAlias, StoreInline, StoreNone:
		return false
	}
	return true
}

// Overlap reports whether the storage of a and b may share memory: the
// same value's storage, or ranges of one block that intersect.
func (pl *Plan) Overlap(a, b *Value) bool {
	a, b = pl.Root(a), pl.Root(b)
	if a == b {
		return true
	}
	sa, sb := pl.Slots[a], pl.Slots[b]
	if !sa.Storage.InBlock() || sa.Storage != sb.Storage {
		return false
	}
	return sa.Offset < sb.Offset+sb.Size && sb.Offset < sa.Offset+sa.Size
}
