package testutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// ArgoCDHealthFile is the Lua health check the project ships for Argo CD.
const ArgoCDHealthFile = "config/argocd/health.lua"

// ArgoCDHealth is what an Argo CD health script returned.
type ArgoCDHealth struct {
	Status, Message string
}

// LoadArgoCDHealth reads the project's Argo CD health script.
func LoadArgoCDHealth(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(ArgoCDHealthFile)))
	return string(data), err
}

// RunArgoCDHealth runs a health script over an object (its JSON decoded) the way Argo CD's
// controller does: with gopher-lua, the standard libraries left closed but for base, table and
// package, the object as the global obj, a one-second limit, and a table with status and message
// expected back; a status outside Argo CD's six is what Argo CD reports as Unknown.
func RunArgoCDHealth(script string, obj map[string]any) (ArgoCDHealth, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			return ArgoCDHealth{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", luaValue(l, obj))
	if err := l.DoString(script); err != nil {
		return ArgoCDHealth{}, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return ArgoCDHealth{}, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	h := ArgoCDHealth{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
	switch h.Status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return h, nil
	}
	return ArgoCDHealth{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
}

// luaValue converts decoded JSON (or an unstructured object) to Lua values as Argo CD does:
// numbers of every Go kind become Lua numbers, maps tables with string keys, lists arrays.
func luaValue(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(luaValue(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetH(lua.LString(k), luaValue(l, item))
		}
		return t
	}
	return lua.LNil
}
