import rt
from rt import map_spawn, spawn_many

def scale(x, factor, offset):
    return x * factor + offset


def noop():
    y = [rt.spawn(abs, (i,)).wait() for i in range(2)]
    return 1


def handler(event, context):
    futures = map_spawn(scale, event["xs"], extra_args=(3, 1))
    if x:
     if x:
      if x:
       if x:
        if x:
         if x:
          if x:
           if x:
            if x:
             if x:
              if x:
               if x:
                if x:
                 if x:
                  if x:
                   if x:
                    if x:
                     if x:
                      if x:
                       if x:
                        if x:
                         if x:
                          if x:
                           if x:
                            if x:
                             if x:
                              if x:
                               if x:
                                if x:
                                 if x:
                                  if x:
                                   if x:
                                    if x:
                                     if x:
                                      if x:
                                       if x:
                                        if x:
                                         if x:
                                          if x:
                                           if x:
                                            if x:
                                             if x:
                                              if x:
                                               if x:
                                                if x:
                                                 if x:
                                                  if x:
                                                   if x:
                                                    if x:
                                                     if x:
                                                      if x:
                                                       if x:
                                                        if x:
                                                         if x:
                                                          if x:
                                                           if x:
                                                            if x:
                                                             if x:
                                                              if x:
                                                               if x:
                                                                if x:
                                                                 if x:
                                                                  if x:
                                                                   if x:
                                                                    if x:
                                                                     if x:
                                                                      if x:
                                                                       if x:
                                                                        if x:
                                                                         if x:
                                                                          if x:
                                                                           x = ------------------------------------------------------------------------------------------------------------------------------------------------------1
                                                                           if x:
                                                                            if x:
                                                                             if x:
                                                                              if x:
                                                                               if x:
                                                                                if x:
                                                                                 if x:
                                                                                  if x:
                                                                                   if x:
                                                                                    if x:
                                                                                     if x:
                                                                                      if x:
                                                                                       if x:
                                                                                        if x:
                                                                                         if x:
                                                                                          if x:
                                                                                           if x:
                                                                                            if x:
                                                                                             if x:
                                                                                              if x:
                                                                                               if x:
                                                                                                if x:
                                                                                                 if x:
                                                                                                  if x:
                                                                                                   if x:
                                                                                                    if x:
                                                                                                     if x:
                                                                                                      if x:
                                                                                                       if x:
                                                                                                        if x:
                                                                                                         if x:
                                                                                                          if x:
                                                                                                           if x:
                                                                                                            if x:
                                                                                                             if x:
                                                                                                              if x:
                                                                                                               if x:
                                                                                                                if x:
                                                                                                                 if x:
                                                                                                                  if x:
                                                                                                                   if x:
                                                                                                                    if x:
                                                                                                                     if x:
                                                                                                                      if x:
                                                                                                                       if x:
                                                                                                                        if x:
                                                                                                                         if x:
                                                                                                                          if x:
                                                                                                                           if x:
                                                                                                                            rt.checkpoint()
    ones = spawn_many(noop, (), 4)
    total = sum([f.wait() for f in futures])
    return total + sum([f.wait() for f in ones])


handler.on_coordinator = True

