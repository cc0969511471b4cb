(name) => SPATIAL.includes(name) ? name : undefined
