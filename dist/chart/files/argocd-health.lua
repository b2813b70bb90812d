-- Argo CD health of selfserve's kinds (platform.selfserve.dev: Team, TenantClass,
-- TenantNamespace, ServiceSLO, ClusterUpgradePolicy). Argo CD has no built-in health for them.
-- It reads what kstatus reads, in the same order, so Argo CD and Flux agree:
--   generation not evaluated yet (status.observedGeneration behind) -> Progressing
--   Stalled=True                                                     -> Degraded, or Suspended
--                                                    while waiting in line (AwaitingApproval,
--                                                    OverBudget: a person or a free place)
--   Reconciling=True, or Ready missing or Unknown                    -> Progressing
--   Ready=True                                                       -> Healthy
--   Ready=False otherwise                                            -> Degraded
-- Argo CD runs it without Lua's standard libraries (base and table only): no string.*, no os.*.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function explain(c)
  local text = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local generation = obj.metadata.generation
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if observed == nil or (generation ~= nil and observed < generation) then
  hs.status = "Progressing"
  if observed == nil then
    hs.message = "Waiting for the selfserve operator to evaluate it"
  else
    hs.message = "Waiting for the selfserve operator to evaluate generation " .. tostring(generation) ..
      " (last evaluated: " .. tostring(observed) .. ")"
  end
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  if stalled.reason == "AwaitingApproval" or stalled.reason == "OverBudget" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = explain(stalled)
  return hs
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = explain(reconciling)
  return hs
end

local ready = condition("Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the selfserve operator to report Ready"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = explain(ready)
else
  hs.status = "Degraded"
  hs.message = explain(ready)
end
return hs
